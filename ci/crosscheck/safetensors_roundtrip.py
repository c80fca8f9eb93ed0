#!/usr/bin/env python3
"""safetensors files both ways between mxguard and Python's own `safetensors` package.

  * Python writes hidden states [T, H] as F32, BF16, F16 and F64 (the same bf16-representable
    values, so every dtype holds them exactly); `mxguard reference` must read each and produce the
    bit-identical y. Python's safe_open then loads mxguard's output: names, dtypes (y F32/F64,
    topk_ids I32, topk_weights F32), shapes, ids in range, weights summing to 1; the header is
    also parsed by hand (8-byte length, JSON, contiguous data offsets covering the file).
  * Python writes a perturbed y (F32 and BF16, with NaN/Inf planted) under another name in a file
    holding other tensors too; `mxguard compare --json` must report the NMSE, max_rel and the
    NaN/Inf counts Python computes itself.
  * Python writes a multi-tensor, mixed-dtype file; `mxguard layout apply deinterleave` must pick
    the named BF16 tensor, and Python reads the result (values, dtype, mxguard.layout metadata).

Usage: safetensors_roundtrip.py --mxguard PATH --work DIR [--json FILE]
Exit: 0 all checks pass, 1 a check failed, 3 a tool is missing or crashed.
"""
import json
import os
import struct
import sys
import traceback

from common import argument_parser, finish, max_rel, nmse, run
from reference_vs_transformers import LAYER, random_layer

E, H, I, K, T = 8, 256, 128, 2, 7


def header_ok(path):
    """The safetensors container by hand: u64 header length, JSON header, data offsets contiguous
    from 0 to the end of the file in some order (no gaps, no overlap)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8: 8 + n])
    spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
    pos = 0
    for begin, end in spans:
        if begin != pos or end < begin:
            return False, header
        pos = end
    return pos == len(blob) - 8 - n, header


def main():
    args = argument_parser(__doc__).parse_args()
    try:
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file, save_file
    except ImportError as e:
        print(f"safetensors_roundtrip.py: {e}", file=sys.stderr)
        return 3
    os.makedirs(args.work, exist_ok=True)
    results = []
    w = args.work
    try:
        layer = random_layer(torch, E, H, I, seed=21)
        ckpt = os.path.join(w, "model.safetensors")
        save_file({f"model.layers.{LAYER}.mlp.{k}": t.contiguous() for k, t in layer.items()}, ckpt)
        x = torch.randn(T, H, generator=torch.Generator().manual_seed(22)).to(torch.bfloat16)

        # 1. Python-written hidden states in four dtypes -> identical mxguard output
        outputs = {}
        for name, dtype in (("F32", torch.float32), ("BF16", torch.bfloat16), ("F16", torch.float16),
                            ("F64", torch.float64)):
            hidden = os.path.join(w, f"hidden_{name}.safetensors")
            save_file({"hidden_states": x.to(dtype)}, hidden, metadata={"written_by": "python safetensors"})
            for precision in ("f32", "f64"):
                out = os.path.join(w, f"ref_{name}_{precision}.safetensors")
                run([args.mxguard, "reference", "--checkpoint", ckpt, "--layer", LAYER, "--hidden", hidden, "--out",
                     out, "--precision", precision, "--num-experts-per-tok", K])
                outputs[(name, precision)] = out
        for (name, precision), out in outputs.items():
            with safe_open(out, framework="pt") as f:
                keys = set(f.keys())
                y, ids, wts = (f.get_tensor(k) for k in ("y", "topk_ids", "topk_weights"))
            contiguous, header = header_ok(out)
            base = load_file(outputs[("F32", precision)])["y"]
            ok = (keys == {"y", "topk_ids", "topk_weights"} and contiguous
                  and y.dtype == (torch.float32 if precision == "f32" else torch.float64)
                  and list(y.shape) == [T, H] and ids.dtype == torch.int32 and list(ids.shape) == [T, K]
                  and wts.dtype == torch.float32 and list(wts.shape) == [T, K]
                  and bool(((ids >= 0) & (ids < E)).all())
                  and bool(((wts.double().sum(-1) - 1).abs() < 1e-6).all())
                  and bool(torch.isfinite(y).all()) and torch.equal(y, base))
            results.append({"check": "python-reads-mxguard-reference-output", "case": f"hidden {name}, {precision}",
                            "keys": sorted(keys), "y_dtype": str(y.dtype), "header_contiguous": contiguous,
                            "metadata": header.get("__metadata__", {}), "y_equal_to_f32_input_run": torch.equal(y, base),
                            "ok": ok})

        # 2. mxguard compare on a Python-written file: its metrics against Python's
        ref_path = outputs[("F32", "f64")]
        y_ref = load_file(ref_path)["y"]
        noise = torch.randn(T, H, generator=torch.Generator().manual_seed(23)) * 1e-3 * float(y_ref.std())
        for name, dtype in (("F32", torch.float32), ("BF16", torch.bfloat16)):
            test = (y_ref + noise).to(dtype)
            planted = test.clone()
            planted[0, 0], planted[1, 5], planted[2, 7] = float("nan"), float("nan"), float("inf")
            for label, a in (("finite", test), ("nan-inf-planted", planted)):
                path = os.path.join(w, f"compare_{name}_{label}.safetensors")
                save_file({"aaa_first": torch.arange(3, dtype=torch.uint8), "y_test": a,
                           "zzz_last": torch.ones(5, dtype=torch.float16)}, path)
                got = json.loads(run([args.mxguard, "compare", path, ref_path, "--tensor", "y_test", "--tensor-b", "y",
                                      "--json"]))
                finite = torch.isfinite(a.double())
                want_nmse = nmse(a.double()[finite], y_ref[finite])
                want_rel = max_rel(a.double()[finite], y_ref[finite])
                nan, inf = int(torch.isnan(a).sum()), int(torch.isinf(a).sum())
                close = (abs(got["nmse"] - want_nmse) <= 1e-6 * want_nmse
                         and abs(got["max_rel"] - want_rel) <= 1e-6 * want_rel)
                ok = (close and got["nonfinite"]["a"]["nan"] == nan and got["nonfinite"]["a"]["inf"] == inf
                      and got["finite_pairs"] == int(finite.sum()) and got["a"]["dtype"] == name)
                results.append({"check": "mxguard-compare-reads-python-file", "case": f"{name} {label}",
                                "nmse": got["nmse"], "python_nmse": want_nmse, "max_rel": got["max_rel"],
                                "python_max_rel": want_rel, "nan": got["nonfinite"]["a"]["nan"], "python_nan": nan,
                                "inf": got["nonfinite"]["a"]["inf"], "python_inf": inf, "ok": ok})

        # 3. layout apply on a Python-written mixed file, read back by Python
        bias_name = f"model.layers.{LAYER}.mlp.experts.gate_up_proj_bias"
        mixed = os.path.join(w, "mixed.safetensors")
        save_file({bias_name: layer["experts.gate_up_proj_bias"], "odd_bytes": torch.arange(7, dtype=torch.uint8),
                   "an_f64": torch.randn(3, 5, dtype=torch.float64)}, mixed)
        out = os.path.join(w, "mixed_deinterleaved.safetensors")
        run([args.mxguard, "layout", "apply", "deinterleave", "--in", mixed, "--tensor", bias_name, "--out", out])
        with safe_open(out, framework="pt") as f:
            meta = f.metadata() or {}
            got = f.get_tensor(bias_name)
        src = layer["experts.gate_up_proj_bias"]
        want = torch.cat((src[:, 0::2], src[:, 1::2]), dim=1)  # §5: [gate | up] from strided slices
        ok = got.dtype == torch.bfloat16 and torch.equal(got, want) and "mxguard.layout" in meta
        results.append({"check": "python-reads-mxguard-layout-output", "case": "bf16 bias from a mixed file",
                        "dtype": str(got.dtype), "metadata": meta, "values_equal": torch.equal(got, want), "ok": ok})
    except Exception:  # noqa: BLE001 - a crash is an infrastructure failure, exit 3
        traceback.print_exc()
        return 3
    return finish("safetensors_roundtrip", results, args.json, {"torch": torch.__version__})


if __name__ == "__main__":
    sys.exit(main())
