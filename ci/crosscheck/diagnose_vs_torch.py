#!/usr/bin/env python3
"""`mxguard diagnose weights` on dumps a torch serving process would make, written by
ci/tools/dump_moe_weights.py from a real torch.nn.Module.

The device tensors are built the way SGLang's AITER MXFP4 loader builds them, with torch view /
permute / pad (the forms in layout_vs_torch.py, independent of mxguard's index_maps.hpp): tp slice
into zeroed padded buffers (LAYOUTS.md §4), gate/up de-interleave (§5), the 16x16 weight-tile and
E8M0 scale shuffles (§6, §7), biases cast to fp32. They are attached as parameters (with an
`is_shuffled` attribute where the loader sets one) to a module at model.layers.3.mlp.experts, the
dump tool saves them, and diagnose must name each chain exactly from the files alone:
  * gate_up blocks / scales / bias: tp 1, tp 4 rank 1, tp 8 rank 7; de-interleaved or not;
    unshuffled, separated and interleaved (gate-up) tiles;
  * down blocks / scales / bias: tp 8 rank 7 (the short rank; the bias zeroed off rank 0);
  * expert parallelism: the dump holds experts 2..3 of 4 (ep 2, rank 1);
  * the sidecar's gate mode (from SGLANG_USE_AITER_MOE_GU_ITLV) and is_shuffled judge the kernel read:
    a bias left in checkpoint order and interleaved tiles under the default switch are exit 1;
  * the incident: interleaved tiles with gate_mode=separated, is_shuffled=false must be exit 1 and
    name gptoss-rocm-gsm8k-0.21; the fixed pipeline with its own flags must be exit 0;
  * one corrupted 16x16 tile must be reported PARTIAL at that tile.

Usage: diagnose_vs_torch.py --mxguard PATH --work DIR [--json FILE] [--tools ci/tools]
Exit: 0 all as expected, 1 a difference, 3 a tool is missing or crashed.
"""
import json
import os
import subprocess
import sys
import traceback

from common import argument_parser, finish
from layout_vs_torch import (deinterleave, gate_up_blocks, pad2d, round_up, scale_blocks, scale_separated,
                             weight_tiles)

LAYER = 3
E, H, I = 4, 2880, 2880  # GPT-OSS-20b sizes, 4 experts


def rank_units(tp, rank):
    """§4: the units rank loads and its padded sizes."""
    P = -(-(I // 32) // tp) * 32
    return min(rank * P, I), min((rank + 1) * P, I), round_up(I // tp, 256), round_up(H, 256)


def sliced_w13(torch, t, tp, rank, row_bytes):
    """§4 for w13 blocks / scales / bias: rows 2*start..2*end (interleaved), all of H, into a zeroed
    [E, 2*I_p, padded row] buffer. row_bytes(H_p) is the padded row length in elements."""
    start, end, Ip, Hp = rank_units(tp, rank)
    src = t.reshape(t.shape[0], 2 * I, -1)[:, 2 * start: 2 * end]
    out = torch.zeros(t.shape[0], 2 * Ip, row_bytes(Hp), dtype=t.dtype)
    out[:, : src.shape[1], : src.shape[2]] = src
    return out


def sliced_w2(torch, t, tp, rank, per_byte):
    """§4 for w2 blocks (per_byte 2 units per byte) / scales (32 units per byte)."""
    start, end, Ip, Hp = rank_units(tp, rank)
    src = t.reshape(t.shape[0], H, -1)[:, :, start // per_byte: end // per_byte]
    out = torch.zeros(t.shape[0], Hp, Ip // per_byte, dtype=t.dtype)
    out[:, : src.shape[1], : src.shape[2]] = src
    return out


def scale_interleaved(torch, s, experts):
    """§7 interleaved with gate_up on 2-D [E*rows, cols]: cols to 8, 16-row gate/up blocks per expert."""
    padded = pad2d(torch, s, s.shape[0], round_up(s.shape[1], 8))
    per_expert = padded.reshape(experts, s.shape[0] // experts, padded.shape[1])
    return scale_blocks(gate_up_blocks(per_expert).reshape(padded.shape))


def make_module(torch, params):
    """A model whose layer LAYER has an expert module holding `params` under SGLang's names."""
    experts = torch.nn.Module()
    for name, (tensor, shuffled) in params.items():
        p = torch.nn.Parameter(tensor.contiguous(), requires_grad=False)
        if shuffled is not None:
            p.is_shuffled = shuffled
        experts.register_parameter(name, p)
    mlp = torch.nn.Module()
    mlp.experts = experts
    layer = torch.nn.Module()
    layer.mlp = mlp
    model = torch.nn.Module()
    model.layers = torch.nn.ModuleList([torch.nn.Module() for _ in range(LAYER)] + [layer])
    root = torch.nn.Module()
    root.model = model
    return root


class Runner:
    def __init__(self, mxguard, work, checkpoint, dump_layer):
        self.mxguard, self.work, self.checkpoint, self.dump_layer = mxguard, work, checkpoint, dump_layer
        self.results = []

    def dump(self, torch, label, params, environ=None, **parallel):
        """The dump tool's files for an SGLang process with this environment (default: the gate-mode
        switch unset, so the sidecar records SGLang's default, separated)."""
        path = os.path.join(self.work, f"{label}.safetensors")
        self.dump_layer(make_module(torch, params), layer=LAYER, path=path, framework="sglang",
                        environ=environ or {}, **parallel)
        return path

    def diagnose(self, dump, tensor, dump_tensor, extra=()):
        cmd = [self.mxguard, "diagnose", "weights", "--checkpoint", self.checkpoint, "--layer", str(LAYER),
               "--tensor", tensor, "--dump", dump, "--dump-tensor", dump_tensor, "--json", "--quiet", *extra]
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        if r.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r.returncode, json.loads(r.stdout)

    def expect_chain(self, label, dump, tensor, dump_tensor, *, tp, rank, deinterleave_rows, shuffle,
                     experts=None, extra=(), exit_code=0, scenario=None):
        rc, rep = self.diagnose(dump, tensor, dump_tensor, extra)
        chain = rep.get("chain") or {}
        problems = []
        if rep.get("verdict") != "EXACT":
            problems.append(f"verdict {rep.get('verdict')}")
        if tp == 1:
            if chain.get("sliced") and not any(r["tp"] == 1 for r in chain.get("tp_ranks", [])):
                problems.append(f"sliced {chain.get('tp_ranks')} where the dump is unsliced")
        elif {"tp": tp, "rank": rank} not in chain.get("tp_ranks", []):
            problems.append(f"tp_ranks {chain.get('tp_ranks')} lack tp={tp}, rank={rank}")
        if "bias" not in tensor and chain.get("shuffle") != shuffle:
            problems.append(f"shuffle {chain.get('shuffle')} != {shuffle}")
        if tensor.startswith("gate_up") and chain.get("deinterleave") != deinterleave_rows:
            problems.append(f"deinterleave {chain.get('deinterleave')} != {deinterleave_rows}")
        if experts is not None and chain.get("experts") != experts:
            problems.append(f"experts {chain.get('experts')} != {experts}")
        if rc != exit_code:
            problems.append(f"exit {rc} != {exit_code}")
        if scenario is not None:
            names = [s["name"] for s in (rep.get("kernel_read") or {}).get("scenarios", [])]
            if scenario not in names:
                problems.append(f"kernel_read scenarios {names} lack {scenario}")
        self.results.append({"check": "diagnose-vs-torch", "case": label, "pipeline": chain.get("pipeline"),
                             "verdict": rep.get("verdict"), "exit": rc, "ok": not problems,
                             "problems": problems})
        print(f"{'ok  ' if not problems else 'FAIL'} {label}: {rep.get('verdict')} {chain.get('pipeline')}"
              + (f"  <- {'; '.join(problems)}" if problems else ""))


def main():
    p = argument_parser(__doc__)
    p.add_argument("--tools", default=os.path.join(os.path.dirname(__file__), "..", "tools"))
    args = p.parse_args()
    try:
        import torch
        from safetensors.torch import save_file
    except ImportError as e:
        print(f"diagnose_vs_torch.py: {e}", file=sys.stderr)
        return 3
    sys.path.insert(0, os.path.abspath(args.tools))
    from dump_moe_weights import dump_layer

    os.makedirs(args.work, exist_ok=True)
    g = torch.Generator().manual_seed(9)

    def rand_bytes(*shape):
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)

    prefix = f"model.layers.{LAYER}.mlp.experts."
    ck = {"gate_up_proj_blocks": rand_bytes(E, 2 * I, H // 32, 16),
          "gate_up_proj_scales": rand_bytes(E, 2 * I, H // 32),
          "gate_up_proj_bias": torch.randn(E, 2 * I, generator=g).to(torch.bfloat16),
          "down_proj_blocks": rand_bytes(E, H, I // 32, 16),
          "down_proj_scales": rand_bytes(E, H, I // 32),
          "down_proj_bias": torch.randn(E, H, generator=g).to(torch.bfloat16)}
    checkpoint = os.path.join(args.work, "checkpoint.safetensors")
    save_file({prefix + k: v.contiguous() for k, v in ck.items()}, checkpoint)
    run = Runner(args.mxguard, args.work, checkpoint, dump_layer)
    try:
        for tp, rank in ((1, 0), (4, 1), (8, 7)):
            blocks = sliced_w13(torch, ck["gate_up_proj_blocks"], tp, rank, lambda hp: hp // 2)
            scales = sliced_w13(torch, ck["gate_up_proj_scales"], tp, rank, lambda hp: hp // 32)
            bias = sliced_w13(torch, ck["gate_up_proj_bias"], tp, rank, lambda hp: 1).reshape(E, -1)
            rows = blocks.shape[1]
            for prep in ("interleaved", "deinterleaved"):
                w, s, b = (blocks, scales, bias) if prep == "interleaved" else (
                    deinterleave(blocks), deinterleave(scales), deinterleave(bias))
                s2d = s.reshape(E * rows, s.shape[2])
                pipelines = [("none", w, s2d, None)]
                if prep == "deinterleaved":  # the two shuffle families SGLang's loader uses
                    pipelines += [("separated", weight_tiles(w), scale_separated(torch, s2d), True),
                                  ("interleaved", weight_tiles(gate_up_blocks(w)),
                                   scale_interleaved(torch, s2d, E), True)]
                for shuffle, wd, sd, flag in pipelines:
                    label = f"w13-tp{tp}-rank{rank}-{prep}-{shuffle}"
                    # SGLang's switch set the way this pipeline needs it: the sidecar then records the
                    # matching gate mode, and with is_shuffled the kernel read must come out consistent.
                    env = {"SGLANG_USE_AITER_MOE_GU_ITLV": "1" if shuffle == "interleaved" else "0"}
                    dump = run.dump(torch, label, {"w13_weight": (wd, flag), "w13_weight_scale": (sd, flag),
                                                   "w13_weight_bias": (b.float(), None)},
                                    environ=env, tp_size=tp, tp_rank=rank)
                    common = dict(tp=tp, rank=rank, deinterleave_rows=prep == "deinterleaved", shuffle=shuffle)
                    run.expect_chain(f"{label}/blocks", dump, "gate_up_proj_blocks", prefix + "w13_weight", **common)
                    run.expect_chain(f"{label}/scales", dump, "gate_up_proj_scales", prefix + "w13_weight_scale",
                                     **common)
                    if shuffle == "none":  # the bias is never shuffled: once per prep is enough
                        # The kernel reads the bias in [gate | up] order in both gate modes (§8): one
                        # left in checkpoint order is a bug the read check must flag (exit 1).
                        run.expect_chain(f"{label}/bias", dump, "gate_up_proj_bias", prefix + "w13_weight_bias",
                                         exit_code=0 if prep == "deinterleaved" else 1, **common)

        # down_proj on the short last rank of tp 8 (192 units), separated tiles, bias zeroed off rank 0
        tp, rank = 8, 7
        w2 = sliced_w2(torch, ck["down_proj_blocks"], tp, rank, 2)
        s2 = sliced_w2(torch, ck["down_proj_scales"], tp, rank, 32)
        b2 = torch.zeros(E, round_up(H, 256))
        dump = run.dump(torch, "w2-tp8-rank7", {"w2_weight": (weight_tiles(w2), True),
                                                "w2_weight_scale": (scale_separated(torch, s2.reshape(-1, s2.shape[2])),
                                                                    True),
                                                "w2_weight_bias": (b2, None)}, tp_size=tp, tp_rank=rank)
        common = dict(tp=tp, rank=rank, deinterleave_rows=False, shuffle="separated")
        run.expect_chain("w2-tp8-rank7/blocks", dump, "down_proj_blocks", prefix + "w2_weight", **common)
        run.expect_chain("w2-tp8-rank7/scales", dump, "down_proj_scales", prefix + "w2_weight_scale", **common)
        run.expect_chain("w2-tp8-rank7/bias", dump, "down_proj_bias", prefix + "w2_weight_bias",
                         **dict(common, shuffle=None))

        # expert parallelism: ep 2, rank 1 holds experts 2 and 3, tp 1 inside the expert group
        w = deinterleave(sliced_w13(torch, ck["gate_up_proj_blocks"], 1, 0, lambda hp: hp // 2))[2:]
        dump = run.dump(torch, "w13-ep2-rank1", {"w13_weight": (weight_tiles(w), True)}, ep_size=2, ep_rank=1)
        run.expect_chain("w13-ep2-rank1/blocks", dump, "gate_up_proj_blocks", prefix + "w13_weight", tp=1, rank=0,
                         deinterleave_rows=True, shuffle="separated", experts=[2, 3])

        # interleaved tiles while the switch is unset: the sidecar says separated, is_shuffled true
        w = deinterleave(sliced_w13(torch, ck["gate_up_proj_blocks"], 1, 0, lambda hp: hp // 2))
        dump = run.dump(torch, "tiles-vs-switch", {"w13_weight": (weight_tiles(gate_up_blocks(w)), True)})
        run.expect_chain("tiles-vs-switch/sidecar-defaults", dump, "gate_up_proj_blocks", prefix + "w13_weight",
                         tp=1, rank=0, deinterleave_rows=True, shuffle="interleaved", exit_code=1,
                         scenario="interleaved-tiles-read-as-separated")

        # the incident and the fixed pipeline, judged with what the kernel was told
        dump = run.dump(torch, "incident", {"w13_weight": (weight_tiles(gate_up_blocks(w)), None)})
        run.expect_chain("incident/interleaved-tiles-read-separated-preshuffle-off", dump, "gate_up_proj_blocks",
                         prefix + "w13_weight", tp=1, rank=0, deinterleave_rows=True, shuffle="interleaved",
                         extra=["--gate-mode", "separated", "--is-shuffled", "false"], exit_code=1,
                         scenario="gptoss-rocm-gsm8k-0.21")
        run.expect_chain("fixed/interleaved-tiles-read-interleave", dump, "gate_up_proj_blocks",
                         prefix + "w13_weight", tp=1, rank=0, deinterleave_rows=True, shuffle="interleaved",
                         extra=["--gate-mode", "interleave", "--is-shuffled", "true"], exit_code=0)

        # one 16x16 tile corrupted: PARTIAL, localised to that tile of expert 1
        shuffled = weight_tiles(w).clone()
        expert, row_block, col_block = 1, 37, 5  # tile (37, 5) of expert 1 in the dump's tile order
        kb = shuffled.shape[2]
        flat = shuffled[expert].reshape(-1)
        tile = row_block * (kb // 16) + col_block
        flat[tile * 256: tile * 256 + 256] ^= 0x5A
        dump = run.dump(torch, "corrupted", {"w13_weight": (shuffled, True)})
        rc, rep = run.diagnose(dump, "gate_up_proj_blocks", prefix + "w13_weight")
        first = (rep.get("mismatches") or [{}])[0]
        where = (first.get("dump_expert"), first.get("row_block"), first.get("col_block"))
        ok = rep.get("verdict") == "PARTIAL" and rc == 1 and where == (expert, row_block, col_block)
        run.results.append({"check": "diagnose-vs-torch", "case": "corrupted-tile", "verdict": rep.get("verdict"),
                            "exit": rc, "first_mismatch": first, "ok": ok})
        print(f"{'ok  ' if ok else 'FAIL'} corrupted-tile: {rep.get('verdict')} first mismatch {first}")
    except Exception:
        traceback.print_exc()
        return 3
    return finish("diagnose_vs_torch", run.results, args.json)


if __name__ == "__main__":
    sys.exit(main())
