#!/usr/bin/env python3
"""Cross-checks mxguard against code we did not write (needs torch, transformers, safetensors).

1. Reference vs Hugging Face transformers: random MXFP4 GPT-OSS MoE layers in the checkpoint
   format; transformers dequantises them (transformers.integrations.mxfp4) and runs its own
   GptOssMLP (router + experts) in fp32; `mxguard reference` runs on the same files; y, topk_ids
   and topk_weights are compared. Fails above NMSE 1e-9 (fp32 against fp32 differs only by
   summation order, ~1e-14) or on any routing difference.
2. safetensors interoperability: every file mxguard wrote here is loaded with Python's
   safetensors; the hidden states mxguard reads were written by Python (F32 and BF16).
3. Layout: AITER's weight shuffle written as the view/permute LAYOUTS.md §6 states (independent of
   mxguard's index arithmetic) against `mxguard layout apply shuffle-weight`, byte for byte, on a
   GPT-OSS-shaped de-interleaved w13 (separated tiles, and interleaved tiles with gate_up).

Usage: transformers_moe.py --mxguard PATH [--work DIR] [--json FILE]
Exit: 0 all checks pass, 1 a check failed, 3 a tool is missing or crashed.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import traceback


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def nmse(a, b):
    a, b = a.double(), b.double()
    return float(((a - b) ** 2).sum() / max(float((b ** 2).sum()), 1e-300))


def random_layer(torch, E, H, I, seed):
    g = torch.Generator().manual_seed(seed)
    return {
        "gate_up_proj_blocks": torch.randint(0, 256, (E, 2 * I, H // 32, 16), dtype=torch.uint8, generator=g),
        "gate_up_proj_scales": torch.randint(119, 127, (E, 2 * I, H // 32), dtype=torch.uint8, generator=g),
        "gate_up_proj_bias": (torch.randn(E, 2 * I, generator=g) * 0.5).to(torch.bfloat16),
        "down_proj_blocks": torch.randint(0, 256, (E, H, I // 32, 16), dtype=torch.uint8, generator=g),
        "down_proj_scales": torch.randint(119, 127, (E, H, I // 32), dtype=torch.uint8, generator=g),
        "down_proj_bias": (torch.randn(E, H, generator=g) * 0.5).to(torch.bfloat16),
        "router.weight": (torch.randn(E, H, generator=g) * 0.05).to(torch.bfloat16),
        "router.bias": (torch.randn(E, generator=g) * 0.5).to(torch.bfloat16),
    }


def transformers_layer(torch, layer, cfg, x):
    """y, topk ids, topk weights from transformers' own GPT-OSS MLP in fp32."""
    from transformers import GptOssConfig
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors
    from transformers.models.gpt_oss import modeling_gpt_oss as m

    config = GptOssConfig(hidden_size=cfg["H"], intermediate_size=cfg["I"], num_local_experts=cfg["E"],
                          num_experts_per_tok=cfg["k"], swiglu_limit=7.0, num_hidden_layers=1)
    mlp = m.GptOssMLP(config).float().eval()
    gate_up = convert_moe_packed_tensors(layer["gate_up_proj_blocks"], layer["gate_up_proj_scales"],
                                         dtype=torch.float32)  # [E, H, 2I]
    down = convert_moe_packed_tensors(layer["down_proj_blocks"], layer["down_proj_scales"],
                                      dtype=torch.float32)  # [E, I, H]
    with torch.no_grad():
        mlp.experts.gate_up_proj.copy_(gate_up)
        mlp.experts.gate_up_proj_bias.copy_(layer["gate_up_proj_bias"].float())
        mlp.experts.down_proj.copy_(down)
        mlp.experts.down_proj_bias.copy_(layer["down_proj_bias"].float())
        mlp.router.weight.copy_(layer["router.weight"].float())
        mlp.router.bias.copy_(layer["router.bias"].float())
        out = mlp(x.float().unsqueeze(0))
        y = out[0] if isinstance(out, tuple) else out
        logits = torch.nn.functional.linear(x.float(), mlp.router.weight, mlp.router.bias)
        top_values, top_ids = torch.topk(logits, cfg["k"], dim=-1)
        top_weights = torch.softmax(top_values, dim=-1)
    return y.reshape(x.shape[0], cfg["H"]), top_ids, top_weights


def check_reference(torch, mxguard, work, cfg, results):
    from safetensors.torch import load_file, save_file
    E, H, I, k, T, L = cfg["E"], cfg["H"], cfg["I"], cfg["k"], cfg["T"], 3
    layer = random_layer(torch, E, H, I, seed=cfg["seed"])
    folder = os.path.join(work, cfg["name"])
    os.makedirs(folder, exist_ok=True)
    names = {}
    for key, t in layer.items():
        names[(f"model.layers.{L}.mlp." + ("" if key.startswith("router") else "experts.") + key)] = t.contiguous()
    save_file(names, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"hidden_size": H, "intermediate_size": I, "num_local_experts": E, "num_experts_per_tok": k,
                   "swiglu_limit": 7.0}, f)
    g = torch.Generator().manual_seed(cfg["seed"] + 1)
    x = torch.randn(T, H, generator=g)
    for dtype_name, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
        xin = x.to(dtype)
        save_file({"hidden_states": xin.contiguous()}, os.path.join(folder, f"hidden_{dtype_name}.safetensors"))
        y_hf, ids_hf, w_hf = transformers_layer(torch, layer, cfg, xin.float())
        for precision in ("f32", "f64"):
            out = os.path.join(folder, f"y_{dtype_name}_{precision}.safetensors")
            run([mxguard, "reference", "--checkpoint", os.path.join(folder, "model.safetensors"), "--layer", str(L),
                 "--hidden", os.path.join(folder, f"hidden_{dtype_name}.safetensors"), "--out", out,
                 "--precision", precision])
            ours = load_file(out)  # Python's safetensors reads what mxguard wrote
            e = nmse(ours["y"], y_hf)
            ids_equal = torch.equal(ours["topk_ids"].long(), ids_hf.long())
            w_err = float((ours["topk_weights"].double() - w_hf.double()).abs().max())
            want_dtype = torch.float32 if precision == "f32" else torch.float64
            ok = e <= 1e-9 and ids_equal and w_err <= 1e-6 and ours["y"].dtype == want_dtype
            results.append({"check": "reference-vs-transformers", "case": cfg["name"], "tokens": T,
                            "hidden_dtype": dtype_name, "precision": precision, "nmse": e,
                            "topk_ids_equal": ids_equal, "topk_weight_max_abs_diff": w_err,
                            "y_dtype": str(ours["y"].dtype), "ok": ok})


def check_layout(torch, mxguard, work, results):
    from safetensors.torch import load_file, save_file
    # GPT-OSS-120b at tp 8, rank 0: I_p = 512 units, H_p = 3072 -> w13 [E, 1024, 1536] bytes ([gate | up]).
    E, rows, kb = 4, 1024, 1536
    g = torch.Generator().manual_seed(7)
    w = torch.randint(0, 256, (E, rows, kb), dtype=torch.uint8, generator=g)
    src = os.path.join(work, "w13.safetensors")
    save_file({"w13": w}, src)

    def tiles(t):  # LAYOUTS.md §6: view [N/16, 16, Kb/32, 2, 16] permuted to [N/16, Kb/32, 2, 16, 16]
        n = t.shape[1]
        return t.view(E, n // 16, 16, kb // 32, 2, 16).permute(0, 1, 3, 4, 2, 5).reshape(E, n, kb)

    def gate_up_blocks(t):  # 16-row blocks of the gate and up halves alternate: G0, U0, G1, U1, ...
        half = t.shape[1] // 2
        gate = t[:, :half].reshape(E, half // 16, 16, kb)
        up = t[:, half:].reshape(E, half // 16, 16, kb)
        return torch.stack((gate, up), dim=2).reshape(E, t.shape[1], kb)

    for label, flags, expected in (("separated-tiles", [], tiles(w)),
                                   ("interleaved-tiles-gate-up", ["--gu-interleave", "--gate-up"],
                                    tiles(gate_up_blocks(w)))):
        out = os.path.join(work, f"{label}.safetensors")
        run([mxguard, "layout", "apply", "shuffle-weight", *flags, "--in", src, "--tensor", "w13", "--out", out])
        got = load_file(out)["w13"]
        same = got.shape == expected.shape and torch.equal(got, expected.contiguous())
        results.append({"check": "layout-vs-torch-view-permute", "case": label, "shape": list(w.shape),
                        "byte_identical": same, "ok": same})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mxguard", required=True, help="path of the mxguard binary")
    p.add_argument("--work", help="scratch folder (default: a temporary one)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--quick", action="store_true", help="skip the GPT-OSS-20b-sized layer")
    args = p.parse_args()
    try:
        import torch
        import safetensors  # noqa: F401
        import transformers
    except ImportError as e:
        print(f"transformers_moe.py: {e}", file=sys.stderr)
        return 3
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = args.work or tempfile.mkdtemp(prefix="mxguard-crosscheck-")
    cases = [{"name": "small", "E": 8, "H": 256, "I": 128, "k": 2, "T": 9, "seed": 11}]
    if not args.quick:
        cases.append({"name": "gptoss20b-layer", "E": 32, "H": 2880, "I": 2880, "k": 4, "T": 6, "seed": 12})
    results = []
    try:
        for cfg in cases:
            check_reference(torch, args.mxguard, work, cfg, results)
        check_layout(torch, args.mxguard, work, results)
    except Exception:
        traceback.print_exc()
        return 3
    summary = {"torch": torch.__version__, "transformers": transformers.__version__, "results": results}
    for r in results:
        print(json.dumps(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    failed = [r for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} of {len(results)} checks pass"
          f" (torch {torch.__version__}, transformers {transformers.__version__})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
