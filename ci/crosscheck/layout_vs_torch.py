#!/usr/bin/env python3
"""`mxguard layout apply` against the layouts written as torch view/permute, byte for byte.

Every expected tensor here is built from LAYOUTS.md's statements with torch reshapes, permutes,
stacks and pads -- no per-byte index arithmetic -- so it is independent of mxguard's
kernels/layout/index_maps.hpp. Inputs are GPT-OSS-shaped random bytes:
  * §5 de-interleave of checkpoint w13 blocks [E, 2I, H/32, 16], scales [E, 2I, H/32] and the
    BF16 bias [E, 2I] (GPT-OSS-20b sizes), and interleave back;
  * §6 weight shuffle (AITER shuffle_weight, 16x16 tiles: view [N/16, 16, Kb/32, 2, 16] permuted
    to [N/16, Kb/32, 2, 16, 16]) of the GPT-OSS-120b TP 8 padded w13 slice [E, 1024, 1536]
    (separated; interleaved tiles with gate_up, 16-row gate/up blocks alternating) and w2
    [E, 3072, 256] (interleaved without gate_up must equal separated);
  * §7 scale shuffle (AITER shuffle_scale: rows padded to 256 and cols to 8 with 0x7F, then view
    [R/32, 2, 16, C/8, 2, 4] permuted to [R/32, C/8, 4, 16, 2, 2]) on the padded TP 8 scales and
    on unpadded ones that need padding, separated and interleaved(+gate_up);
  * §4 tp-slice of w13/w2 blocks and the down bias (rank 0 and the short last rank of tp 8).
Each shuffle is also undone with `--inverse` and must give the input back.

Usage: layout_vs_torch.py --mxguard PATH --work DIR [--json FILE]
Exit: 0 all byte-identical, 1 a difference, 3 a tool is missing or crashed.
"""
import os
import sys
import traceback

from common import argument_parser, finish, run

PAD = 0x7F  # mxguard's documented scale padding byte (E8M0 1.0); AITER leaves padding uninitialised


def deinterleave(t):
    """§5: rows [g0,u0,g1,u1,...] -> [g0..g_{n-1} | u0..u_{n-1}] along dim 1."""
    E, rows = t.shape[0], t.shape[1]
    return t.reshape(E, rows // 2, 2, *t.shape[2:]).transpose(1, 2).reshape(t.shape)


def gate_up_blocks(t):
    """§6: [gate | up] halves of n rows -> 16-row blocks alternating G0, U0, G1, U1, ... (per expert)."""
    E, rows = t.shape[0], t.shape[1]
    half = t.reshape(E, 2, rows // 32, 16, *t.shape[2:])
    return half.transpose(1, 2).reshape(t.shape)


def weight_tiles(t):
    """§6: AITER's 16x16-byte tiles, [E, N, Kb] bytes."""
    E, n, kb = t.shape
    return t.view(E, n // 16, 16, kb // 32, 2, 16).permute(0, 1, 3, 4, 2, 5).reshape(E, n, kb)


def pad2d(torch, t, rows, cols):
    out = torch.full((rows, cols), PAD, dtype=torch.uint8)
    out[: t.shape[0], : t.shape[1]] = t
    return out


def round_up(v, m):
    return (v + m - 1) // m * m


def scale_blocks(t):
    """§7 on a padded [R, C]: 32-row x 8-col blocks; inside, (col%4, row%16, col half, row half)."""
    R, C = t.shape
    return t.view(R // 32, 2, 16, C // 8, 2, 4).permute(0, 3, 5, 2, 4, 1).reshape(R, C)


def scale_separated(torch, s):
    return scale_blocks(pad2d(torch, s, round_up(s.shape[0], 256), round_up(s.shape[1], 8)))


def scale_interleaved_gate_up(torch, s, experts):
    """§7 interleaved, gate_up: cols to 8, 16-row gate/up blocks alternate per expert, then the
    separated blocks (rows per expert are a multiple of 32, so no 32-row block crosses experts)."""
    padded = pad2d(torch, s, s.shape[0], round_up(s.shape[1], 8))
    per_expert = padded.reshape(experts, s.shape[0] // experts, padded.shape[1])
    return scale_blocks(gate_up_blocks(per_expert).reshape(padded.shape))


def tp_slice(torch, t, kind, tp, rank, I, H):
    """§4: what rank loads, in the top-left corner of its zeroed padded buffer (bytes along the last
    dims flattened to one byte axis; mxguard's result is compared after the same flattening)."""
    P = -(-(I // 32) // tp) * 32
    start, end = min(rank * P, I), min((rank + 1) * P, I)
    Hp, Ip = round_up(H, 256), round_up(I // tp, 256)
    E = t.shape[0]
    if kind == "gate_up_proj_blocks":
        src = t.reshape(E, 2 * I, H // 2)[:, 2 * start: 2 * end]
        out = torch.zeros(E, 2 * Ip, Hp // 2, dtype=t.dtype)
    elif kind == "down_proj_blocks":
        src = t.reshape(E, H, I // 2)[:, :, start // 2: end // 2]
        out = torch.zeros(E, Hp, Ip // 2, dtype=t.dtype)
    elif kind == "down_proj_bias":
        src = t if rank == 0 else torch.zeros_like(t)  # §4: zeroed on ranks other than 0
        out = torch.zeros(E, Hp, dtype=t.dtype)
    else:
        raise ValueError(kind)
    out[tuple(slice(0, n) for n in src.shape)] = src
    return out


class Checker:
    def __init__(self, torch, mxguard, work):
        self.torch, self.mxguard, self.work, self.results = torch, mxguard, work, []
        from safetensors.torch import load_file, save_file
        self.load_file, self.save_file = load_file, save_file

    def save(self, name, t):
        path = os.path.join(self.work, f"{name}.safetensors")
        self.save_file({"t": t.contiguous()}, path)
        return path

    def apply(self, label, args, src_path):
        out = os.path.join(self.work, f"{label}.safetensors")
        run([self.mxguard, "layout", "apply", *args, "--in", src_path, "--tensor", "t", "--out", out])
        return out, self.load_file(out)["t"]

    def compare(self, check, label, got, expected, flatten=False):
        torch = self.torch
        if flatten and got.numel() == expected.numel():
            got = got.reshape(expected.shape)
        same = got.shape == expected.shape and got.dtype == expected.dtype and torch.equal(
            got.contiguous().view(torch.uint8), expected.contiguous().view(torch.uint8))
        entry = {"check": check, "case": label, "shape": list(expected.shape), "dtype": str(expected.dtype),
                 "byte_identical": same, "ok": same}
        if not same and got.shape == expected.shape and got.dtype == expected.dtype:
            diff = (got.contiguous().view(torch.uint8) != expected.contiguous().view(torch.uint8)).reshape(-1)
            entry["bytes_differing"] = int(diff.sum())
            entry["first_differing_byte"] = int(diff.nonzero()[0])
        elif not same:
            entry["got"] = f"{list(got.shape)} {got.dtype}"
        self.results.append(entry)

    def transform(self, label, args, src, expected, inverse_args=None, flatten=False):
        """mxguard's transform against `expected`; then its inverse must give `src` back."""
        src_path = self.save(f"{label}-in", src)
        out_path, got = self.apply(label, args, src_path)
        self.compare("layout-vs-torch", label, got, expected, flatten)
        if inverse_args is not None:
            _, back = self.apply(f"{label}-inverse", [*args, "--inverse", *inverse_args], out_path)
            self.compare("layout-inverse-roundtrip", label, back, src, flatten)


def main():
    args = argument_parser(__doc__).parse_args()
    try:
        import torch
        import safetensors  # noqa: F401
    except ImportError as e:
        print(f"layout_vs_torch.py: {e}", file=sys.stderr)
        return 3
    os.makedirs(args.work, exist_ok=True)
    g = torch.Generator().manual_seed(5)

    def rand_bytes(*shape):
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)

    c = Checker(torch, args.mxguard, args.work)
    try:
        # §5 on GPT-OSS-20b checkpoint tensors (E = 2 of 32, H = I = 2880)
        E, H, I = 2, 2880, 2880
        blocks, scales = rand_bytes(E, 2 * I, H // 32, 16), rand_bytes(E, 2 * I, H // 32)
        bias = torch.randn(E, 2 * I, generator=g).to(torch.bfloat16)
        for label, t in (("deinterleave-w13-blocks", blocks), ("deinterleave-w13-scales", scales),
                         ("deinterleave-w13-bias-bf16", bias)):
            c.transform(label, ["deinterleave"], t, deinterleave(t))
            c.transform(label.replace("deinterleave", "interleave"), ["interleave"], deinterleave(t), t)

        # §6 on the GPT-OSS-120b TP 8 padded slices: w13 [E, 2*I_p, H_p/2] = [E, 1024, 1536] ([gate | up]),
        # w2 [E, H_p, I_p/2] = [E, 3072, 256]
        E = 4
        w13, w2 = rand_bytes(E, 1024, 1536), rand_bytes(E, 3072, 256)
        c.transform("shuffle-weight-w13-separated", ["shuffle-weight"], w13, weight_tiles(w13), [])
        c.transform("shuffle-weight-w13-separated-4d", ["shuffle-weight"], w13.reshape(E, 1024, 96, 16),
                    weight_tiles(w13).reshape(E, 1024, 96, 16), [])
        c.transform("shuffle-weight-w13-interleaved-gate-up", ["shuffle-weight", "--gu-interleave", "--gate-up"],
                    w13, weight_tiles(gate_up_blocks(w13)), [])
        c.transform("shuffle-weight-w2-separated", ["shuffle-weight"], w2, weight_tiles(w2), [])
        c.transform("shuffle-weight-w2-interleaved", ["shuffle-weight", "--gu-interleave"], w2, weight_tiles(w2), [])

        # §7: TP 8 padded scales (no padding needed) and unpadded ones (padding needed)
        s13, s2 = rand_bytes(E * 1024, 96), rand_bytes(E * 3072, 16)
        for label, s, experts, rows in (("w13-tp8", s13, E, 1024), ("w2-tp8", s2, E, 3072),
                                        ("odd-rows-cols", rand_bytes(3 * 96, 90), 3, 96)):
            cols = s.shape[1]
            c.transform(f"shuffle-scale-{label}-separated", ["shuffle-scale", "--experts", str(experts)], s,
                        scale_separated(torch, s), ["--rows", str(rows), "--cols", str(cols)])
        s20 = rand_bytes(2 * 5760, 90)  # GPT-OSS-20b w13 scales of 2 experts, cols 90 -> 96
        for label, s, experts, rows in (("w13-tp8", s13, E, 1024), ("w13-20b-unpadded", s20, 2, 5760)):
            c.transform(f"shuffle-scale-{label}-interleaved-gate-up",
                        ["shuffle-scale", "--gu-interleave", "--gate-up", "--experts", str(experts)], s,
                        scale_interleaved_gate_up(torch, s, experts),
                        ["--rows", str(rows), "--cols", str(s.shape[1])])

        # §4: tp 8 slices of GPT-OSS-120b-sized checkpoint tensors (E = 2), rank 0 and the short rank 7
        E, H, I = 2, 2880, 2880
        ck13, ck2 = rand_bytes(E, 2 * I, H // 32, 16), rand_bytes(E, H, I // 32, 16)
        b2 = torch.randn(E, H, generator=g).to(torch.bfloat16)
        for kind, t, extra in (("gate_up_proj_blocks", ck13, []), ("down_proj_blocks", ck2, []),
                               ("down_proj_bias", b2, ["--intermediate", str(I)])):
            for rank in (0, 7):
                c.transform(f"tp-slice-{kind}-tp8-rank{rank}",
                            ["tp-slice", "--tp", "8", "--rank", str(rank), "--kind", kind, *extra], t,
                            tp_slice(torch, t, kind, 8, rank, I, H), flatten=True)
    except Exception:  # noqa: BLE001 - a crash is an infrastructure failure, exit 3
        traceback.print_exc()
        return 3
    return finish("layout_vs_torch", c.results, args.json, {"torch": torch.__version__})


if __name__ == "__main__":
    sys.exit(main())
