#!/usr/bin/env python3
"""`mxguard reference` against Hugging Face transformers' own GPT-OSS MoE code.

Random MXFP4 GPT-OSS MoE layers are written in the checkpoint layout (LAYOUTS.md §2: tensors
model.layers.L.mlp.experts.{gate_up,down}_proj_{blocks,scales,bias} and mlp.router.{weight,bias},
plus config.json). transformers dequantises them with its own helper
(transformers.integrations.mxfp4.convert_moe_packed_tensors, which also transposes to its
[E, H, 2I] / [E, I, H] parameter layout) and runs its own GptOssMLP (GptOssTopKRouter +
GptOssExperts); `mxguard reference` runs on the files. y, topk_ids and topk_weights are compared.

Tolerances (why these numbers). The dequantised weights (E2M1 value times a power of two) and the
bf16 biases and inputs are exact in fp32 and fp64, so both sides compute the same real numbers and
differ only by rounding and summation order:
  * mxguard f64 vs transformers f64: NMSE <= 1e-24, max_rel <= 1e-10 (fp64 rounding of dot
    products of length <= 2880 is ~1e-15 relative, NMSE ~1e-30; six orders of margin).
  * any side in fp32: NMSE <= 1e-9, max_rel <= 1e-4 (fp32 rounding gives NMSE ~1e-13..1e-12 and
    max_rel ~1e-6..1e-5; a semantic slip -- gate/up swapped, no +1, wrong alpha or limit, bias
    dropped, wrong routing softmax -- gives NMSE >= 1e-6, usually >= 1e-2).
  * topk_ids must be identical (the smallest gap between the k-th and (k+1)-th logit is reported,
    so a flip could be told from a tie); topk_weights (mxguard writes F32) within 1e-6 absolute.
The checks must not be loosened to make a mismatch pass: a mismatch is a finding.

Usage: reference_vs_transformers.py --mxguard PATH --work DIR [--json FILE] [--quick]
Exit: 0 all checks pass, 1 a check failed, 3 a tool is missing or crashed.
"""
import inspect
import json
import os
import sys
import traceback

from common import ToolError, argument_parser, finish, max_rel, nmse, run

LAYER = 3  # not 0, so a tool that ignored --layer would find no tensors


def random_layer(torch, E, H, I, seed):
    """One layer in the checkpoint layout. Scales 2^-8..2^-1 keep activations mostly inside the
    SwiGLU limit, with some clamping (the limit is exercised too)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "experts.gate_up_proj_blocks": torch.randint(0, 256, (E, 2 * I, H // 32, 16), dtype=torch.uint8, generator=g),
        "experts.gate_up_proj_scales": torch.randint(119, 127, (E, 2 * I, H // 32), dtype=torch.uint8, generator=g),
        "experts.gate_up_proj_bias": (torch.randn(E, 2 * I, generator=g) * 0.5).to(torch.bfloat16),
        "experts.down_proj_blocks": torch.randint(0, 256, (E, H, I // 32, 16), dtype=torch.uint8, generator=g),
        "experts.down_proj_scales": torch.randint(119, 127, (E, H, I // 32), dtype=torch.uint8, generator=g),
        "experts.down_proj_bias": (torch.randn(E, H, generator=g) * 0.5).to(torch.bfloat16),
        "router.weight": (torch.randn(E, H, generator=g) * 0.05).to(torch.bfloat16),
        "router.bias": (torch.randn(E, generator=g) * 0.5).to(torch.bfloat16),
    }


def hf_mlp(torch, layer, cfg, dtype):
    """transformers' GptOssMLP holding this layer's weights, dequantised by transformers, in dtype."""
    from transformers import GptOssConfig
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors
    from transformers.models.gpt_oss import modeling_gpt_oss as m

    config = GptOssConfig(hidden_size=cfg["H"], intermediate_size=cfg["I"], num_local_experts=cfg["E"],
                          num_experts_per_tok=cfg["k"], swiglu_limit=7.0, num_hidden_layers=1)
    mlp = m.GptOssMLP(config).to(dtype).eval()
    gate_up = convert_moe_packed_tensors(layer["experts.gate_up_proj_blocks"], layer["experts.gate_up_proj_scales"],
                                         dtype=torch.float32)
    down = convert_moe_packed_tensors(layer["experts.down_proj_blocks"], layer["experts.down_proj_scales"],
                                      dtype=torch.float32)
    with torch.no_grad():
        # copy_ checks the shapes: transformers' parameters are [E, H, 2I] and [E, I, H]
        mlp.experts.gate_up_proj.copy_(gate_up)
        mlp.experts.gate_up_proj_bias.copy_(layer["experts.gate_up_proj_bias"].float())
        mlp.experts.down_proj.copy_(down)
        mlp.experts.down_proj_bias.copy_(layer["experts.down_proj_bias"].float())
        mlp.router.weight.copy_(layer["router.weight"].float())
        mlp.router.bias.copy_(layer["router.bias"].float())
    return mlp


def hf_routing(torch, router, x, k):
    """topk ids and weights as transformers' own GptOssTopKRouter returns them (the return tuple
    changed across versions: ids are the integer tensor; the weights are the float tensor, [T, k]
    or scattered into [T, E], whose gathered rows sum to 1)."""
    out = router(x)
    out = out if isinstance(out, tuple) else (out,)
    ids = next(t for t in out if not t.is_floating_point())
    for t in (t for t in out if t.is_floating_point()):
        w = t if t.shape[-1] == k else t.gather(-1, ids.long())
        if torch.allclose(w.double().sum(-1), torch.ones(w.shape[0], dtype=torch.float64), atol=1e-5):
            return ids.long(), w
    raise RuntimeError(f"GptOssTopKRouter returned no routing weights: {[tuple(t.shape) for t in out]}")


def logit_gap(torch, layer, x, k):
    """Smallest gap between the k-th and (k+1)-th router logit over the tokens (fp64)."""
    logits = x.double() @ layer["router.weight"].double().T + layer["router.bias"].double()
    top = torch.topk(logits, k + 1, dim=-1).values
    return float((top[:, k - 1] - top[:, k]).min()) if logits.shape[1] > k else float("inf")


def check_case(torch, mxguard, work, cfg, results, notes):
    from safetensors.torch import load_file, save_file
    E, H, I, k, T = cfg["E"], cfg["H"], cfg["I"], cfg["k"], cfg["T"]
    layer = random_layer(torch, E, H, I, seed=cfg["seed"])
    folder = os.path.join(work, cfg["name"])
    os.makedirs(folder, exist_ok=True)
    ckpt = os.path.join(folder, "model.safetensors")
    save_file({f"model.layers.{LAYER}.mlp.{key}": t.contiguous() for key, t in layer.items()}, ckpt)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": H,
                   "intermediate_size": I, "num_local_experts": E, "num_experts_per_tok": k,
                   "swiglu_limit": 7.0, "num_hidden_layers": LAYER + 1}, f)
    x = torch.randn(T, H, generator=torch.Generator().manual_seed(cfg["seed"] + 1))

    mlps = {"f32": hf_mlp(torch, layer, cfg, torch.float32)}
    try:
        mlps["f64"] = hf_mlp(torch, layer, cfg, torch.float64)
    except Exception as e:  # noqa: BLE001 - recorded, the fp32 comparison still runs
        notes.append(f"{cfg['name']}: transformers GptOssMLP in float64 unavailable: {e!r}")

    for hidden_name, hidden_dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
        xin = x.to(hidden_dtype)
        hidden = os.path.join(folder, f"hidden_{hidden_name}.safetensors")
        save_file({"hidden_states": xin.contiguous()}, hidden)
        gap = logit_gap(torch, layer, xin, k)
        for hf_name, mlp in mlps.items():
            dt = torch.float32 if hf_name == "f32" else torch.float64
            with torch.no_grad():
                xs = xin.to(dt).unsqueeze(0)  # transformers' MLP takes [batch, seq, H]
                out = mlp(xs)
                y_hf = (out[0] if isinstance(out, tuple) else out).reshape(T, H)
                ids_hf, w_hf = hf_routing(torch, mlp.router, xin.to(dt), k)
            for precision in ("f32", "f64"):
                out_path = os.path.join(folder, f"y_{hidden_name}_{precision}.safetensors")
                if not os.path.exists(out_path):
                    run([mxguard, "reference", "--checkpoint", ckpt, "--layer", LAYER, "--hidden", hidden,
                         "--out", out_path, "--precision", precision])
                ours = load_file(out_path)
                exact = precision == "f64" and hf_name == "f64"
                tol_nmse, tol_rel = (1e-24, 1e-10) if exact else (1e-9, 1e-4)
                e, r = nmse(ours["y"], y_hf), max_rel(ours["y"], y_hf)
                ids_equal = torch.equal(ours["topk_ids"].long(), ids_hf)
                w_err = float((ours["topk_weights"].double() - w_hf.double()).abs().max())
                want_y = torch.float32 if precision == "f32" else torch.float64
                ok = (e <= tol_nmse and r <= tol_rel and ids_equal and w_err <= 1e-6 and ours["y"].dtype == want_y
                      and ours["topk_ids"].dtype == torch.int32 and ours["topk_weights"].dtype == torch.float32)
                results.append({"check": "reference-vs-transformers", "case": cfg["name"], "E": E, "H": H, "I": I,
                                "k": k, "tokens": T, "hidden_dtype": hidden_name,
                                "mxguard_precision": precision, "transformers_dtype": hf_name,
                                "nmse": e, "nmse_tol": tol_nmse, "max_rel": r, "max_rel_tol": tol_rel,
                                "topk_ids_equal": ids_equal, "min_logit_gap": gap,
                                "topk_weight_max_abs_diff": w_err, "y_dtype": str(ours["y"].dtype), "ok": ok})


def main():
    p = argument_parser(__doc__)
    p.add_argument("--quick", action="store_true", help="skip the GPT-OSS-20b-sized layer")
    p.add_argument("--show-source", action="store_true",
                   help="print the transformers code compared against (router, experts, dequantisation)")
    args = p.parse_args()
    try:
        import torch
        import safetensors  # noqa: F401
        import transformers
    except ImportError as e:
        print(f"reference_vs_transformers.py: {e}", file=sys.stderr)
        return 3
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.show_source:
        from transformers.integrations import mxfp4
        from transformers.models.gpt_oss import modeling_gpt_oss as m
        for obj in (m.GptOssTopKRouter.forward, m.GptOssExperts.forward, m.GptOssMLP.forward,
                    mxfp4.convert_moe_packed_tensors):
            print(f"---- {obj.__qualname__} ({inspect.getsourcefile(obj)})\n{inspect.getsource(obj)}")
    cases = [{"name": "small", "E": 8, "H": 256, "I": 256, "k": 2, "T": 9, "seed": 11},
             {"name": "small-narrow-I", "E": 8, "H": 256, "I": 128, "k": 2, "T": 5, "seed": 13}]
    if not args.quick:
        cases.append({"name": "gptoss20b-sized", "E": 32, "H": 2880, "I": 2880, "k": 4, "T": 6, "seed": 12})
    results, notes = [], []
    os.makedirs(args.work, exist_ok=True)
    try:
        for cfg in cases:
            check_case(torch, args.mxguard, args.work, cfg, results, notes)
    except (ToolError, Exception):  # noqa: BLE001 - any crash is an infrastructure failure, exit 3
        traceback.print_exc()
        return 3
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return finish("reference_vs_transformers", results, args.json,
                  {"torch": torch.__version__, "transformers": transformers.__version__, "notes": notes})


if __name__ == "__main__":
    sys.exit(main())
