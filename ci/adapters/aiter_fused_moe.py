#!/usr/bin/env python3
# External-protocol adapter: runs one mxguard problem file through AMD AITER's fused MoE with the arguments SGLang passes.
"""Run one mxguard fused-MoE problem through AITER's ``fused_moe`` the way SGLang's MXFP4 path calls it.

mxguard's ``external`` backend (kernels/backend/EXTERNAL_PROTOCOL.md) writes a problem file (device-
layout tensors plus the contract fields as safetensors ``__metadata__``), runs this script as
``python3 ci/adapters/aiter_fused_moe.py {in} {out}`` and reads tensor ``y`` ([T, H] BF16) back
(protocol v1, a process per combination). With ``--worker`` the script is a persistent worker
(protocol v2, ``mxguard matrix --kernel-worker 'python3 ci/adapters/aiter_fused_moe.py --worker'``):
torch, AITER and the GPU are set up once and every combination is one request. Both modes come from
``mxguard_adapter.py``; this file holds only what is AITER's.

The call reproduces SGLang's GPT-OSS MXFP4 MoE on ROCm with SGLANG_USE_AITER=1. Upstream sources the
argument set was read from (facts only; see ci/adapters/README.md for the full table):

* sgl-project/sglang, python/sglang/srt/layers/moe/moe_runner/aiter.py, ``AiterRunnerCore.run``:
  the keyword set of the ``fused_moe`` call, ``gate_mode`` from ``GateMode`` chosen by the env var
  SGLANG_USE_AITER_MOE_GU_ITLV, ``swiglu_limit`` only when positive;
  ``pre_permute_standard_to_aiter``: top-k weights as float32, ids as int32.
* python/sglang/srt/layers/quantization/mxfp4.py, ``Mxfp4MoEMethod`` (read in the amdpilot-org/sglang
  snapshot 042aab5c; the stored upstream snapshot predates the AITER branch):
  ``process_weights_after_loading`` (biases to float32 in [gate | up] order, the shuffles, the
  ``is_shuffled`` tag), ``create_moe_runner`` (activation "swiglu"), ``_apply_aiter`` (fp4x2 view of the
  weights, ``is_shuffled`` re-tagged after the view, ``QuantType.per_1x32``, the pads, the clamp limit).
* python/sglang/srt/layers/moe/fused_moe_triton/layer.py, ``FusedMoE.forward``: the output is cut back
  to the unpadded hidden size.
* ROCm/aiter, aiter/fused_moe.py, ``fused_moe`` / ``_fused_moe_impl``: ``is_shuffled`` is read with
  ``getattr`` from w1/w2, 1-byte scales are viewed as e8m0 internally, the output is
  [T, w2.shape[1]] (the padded hidden size).

Exit status: 0 y written (or --dry-run passed); 2 bad arguments or a problem file this adapter cannot
honour; 3 environment: torch/safetensors/aiter not importable, no AMD GPU, or AITER failed. mxguard
treats any non-zero status as that combination's infrastructure ERROR and shows this stderr. As a
worker, a problem it cannot honour is answered as that combination's error and the worker goes on;
AITER raising is answered as fatal and the worker exits, so mxguard starts a fresh one (a GPU
exception can leave the process's device state unusable).

The header checks and --dry-run use only the standard library, so a problem file can be checked on a
machine without torch or a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import os
import platform
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxguard_adapter as mx  # noqa: E402  (the protocol, the problem-file checks, v1 and v2)

# The helper's names this adapter and its tests use.
AdapterError = mx.AdapterError
Contract = mx.Contract
EXIT_OK, EXIT_INPUT, EXIT_ENVIRONMENT = mx.EXIT_OK, mx.EXIT_INPUT, mx.EXIT_ENVIRONMENT
PROTOCOL_VERSION = mx.PROTOCOL_VERSION
read_header = mx.read_header
input_error = mx.input_error

# AITER's SwiGLU kernels hard-code the GPT-OSS sigmoid slope; there is no argument to pass another.
AITER_SWIGLU_ALPHA = 1.702
ALPHA_TOLERANCE = 1e-6


def parse_contract(path: str, metadata: dict[str, str], tensors: dict[str, mx.TensorInfo]) -> Contract:
    """The protocol's checks (mxguard_adapter.parse_contract), then what AITER itself cannot honour."""
    contract = mx.parse_contract(path, metadata, tensors)
    check_alpha(path, contract)
    return contract


def check_alpha(path: str, contract: Contract) -> None:
    if abs(contract.alpha - AITER_SWIGLU_ALPHA) > ALPHA_TOLERANCE:
        raise input_error(path, "__metadata__ 'alpha'",
                          f"is {contract.alpha}, but AITER's SwiGLU fixes the sigmoid slope at {AITER_SWIGLU_ALPHA} "
                          "and takes no argument for it")


def describe_call(c: Contract) -> str:
    """The fused_moe call this adapter makes, in words (printed by --dry-run)."""
    shuffled_tag = "w13.is_shuffled = w2.is_shuffled = True" if c.is_shuffled else "no is_shuffled attribute"
    lines = [
        f"problem: T={c.tokens} E={c.experts} k={c.topk} H_p={c.hidden_padded} H={c.hidden_size} "
        f"I_p={c.intermediate_padded} gate_mode={c.gate_mode} is_shuffled={str(c.is_shuffled).lower()} "
        f"hidden_pad={c.hidden_pad} intermediate_pad={c.intermediate_pad} swiglu_limit={c.swiglu_limit:g}",
        "aiter.fused_moe.fused_moe(",
        f"    hidden_states = hidden            bf16 [{c.tokens}, {c.hidden_padded}]",
        f"    w1            = w13.view(fp4x2)   [{c.experts}, {2 * c.intermediate_padded}, {c.hidden_padded // 2}] ({shuffled_tag})",
        f"    w2            = w2.view(fp4x2)    [{c.experts}, {c.hidden_padded}, {c.intermediate_padded // 2}]",
        "    topk_weight   = topk_weights      float32",
        "    topk_ids      = topk_ids          int32",
        "    quant_type    = QuantType.per_1x32",
        "    activation    = ActivationType.Swiglu",
        "    w1_scale      = w13_scale         uint8 2-D (AITER views it as e8m0)",
        "    w2_scale      = w2_scale          uint8 2-D",
        "    a1_scale      = None,  a2_scale = None",
        "    bias1         = w13_bias          float32 [gate | up]",
        "    bias2         = w2_bias           float32",
        "    expert_mask   = None              (single rank, every expert local)",
        "    doweight_stage1 = False",
        f"    hidden_pad    = {c.hidden_pad},  intermediate_pad = {c.intermediate_pad}",
        f"    gate_mode     = {c.gate_mode!r}",
        f"    swiglu_limit  = {c.swiglu_limit:g}",
        ")",
        f"y = result[:, :{c.hidden_size}] -> bf16 [{c.tokens}, {c.hidden_size}]",
    ]
    return "\n".join(lines)


@dataclasses.dataclass
class Stack:
    """The imported runtime: torch, safetensors.torch and the AITER entry points."""

    torch: Any
    st_torch: Any
    aiter: Any
    fused_moe: Any
    activation_type: Any
    quant_type: Any
    fp4x2: Any


def import_stack() -> Stack:
    """Imports torch, safetensors and aiter; a missing one is an environment error naming it."""
    modules = {}
    for name in ("torch", "safetensors.torch", "aiter", "aiter.fused_moe"):
        try:
            modules[name] = importlib.import_module(name)
        except Exception as e:  # aiter's import runs JIT setup that can fail in many ways
            raise AdapterError(f"cannot import {name} ({type(e).__name__}: {e}); this adapter needs a ROCm build of "
                               "torch, safetensors and AITER (github.com/ROCm/aiter) on an AMD GPU host",
                               EXIT_ENVIRONMENT) from e
    aiter = modules["aiter"]
    try:
        return Stack(torch=modules["torch"], st_torch=modules["safetensors.torch"], aiter=aiter,
                     fused_moe=modules["aiter.fused_moe"].fused_moe, activation_type=aiter.ActivationType,
                     quant_type=aiter.QuantType, fp4x2=aiter.dtypes.fp4x2)
    except AttributeError as e:
        raise AdapterError(f"this AITER build lacks an entry point the adapter uses: {e}", EXIT_ENVIRONMENT) from e


def check_device(stack: Stack, device_index: int, any_arch: bool) -> str:
    """Returns the GPU architecture; refuses anything but a ROCm GPU (gfx95x unless --any-arch)."""
    torch = stack.torch
    if getattr(torch.version, "hip", None) is None:
        raise AdapterError(f"torch {torch.__version__} is not a ROCm build (torch.version.hip is None): "
                           "AITER runs on AMD GPUs only", EXIT_ENVIRONMENT)
    count = torch.cuda.device_count()
    if not torch.cuda.is_available() or count == 0:
        raise AdapterError("no AMD GPU is visible to torch (torch.cuda.is_available() is False)", EXIT_ENVIRONMENT)
    if not 0 <= device_index < count:
        raise AdapterError(f"--device {device_index} does not exist ({count} GPU(s) visible)", EXIT_INPUT)
    arch = torch.cuda.get_device_properties(device_index).gcnArchName.split(":")[0]
    # SGLang's Mxfp4Config refuses MXFP4 MoE on anything but gfx95x (MI35x); mirror that.
    if not arch.startswith("gfx95") and not any_arch:
        raise AdapterError(f"GPU {device_index} is {arch}; MXFP4 fused MoE needs gfx95x (MI350/MI355). "
                           "Pass --any-arch to try anyway", EXIT_ENVIRONMENT)
    return arch


def gate_mode_arguments(stack: Stack, gate_mode: str) -> dict[str, str]:
    """The gate_mode keyword: GateMode(value).value as SGLang passes it, or nothing for an old AITER."""
    if "gate_mode" not in inspect.signature(stack.fused_moe).parameters:
        if gate_mode == "separated":
            return {}  # builds without the argument only know the separated layout
        raise AdapterError("this AITER build's fused_moe has no gate_mode argument, so it cannot read an "
                           "interleaved w13 (gate_mode = interleave)", EXIT_ENVIRONMENT)
    try:
        gate_mode_enum = importlib.import_module("aiter.ops.flydsl.moe_common").GateMode
    except (ImportError, AttributeError):
        # aiter.fused_moe defines the same enum when FlyDSL is absent. SGLang then omits the argument
        # (AITER's default, separated); passing the contract's mode keeps interleaved problems honest.
        gate_mode_enum = getattr(importlib.import_module("aiter.fused_moe"), "GateMode", None)
    if gate_mode_enum is None:
        return {"gate_mode": gate_mode}  # fused_moe converts the string with GateMode(value) itself
    return {"gate_mode": gate_mode_enum(gate_mode).value}


def run_aiter(stack: Stack, problem_path: str, c: Contract, device_index: int) -> Any:
    """Loads the problem onto the GPU, calls fused_moe with SGLang's arguments, returns y [T, H] bf16 on the CPU."""
    torch = stack.torch
    device = f"cuda:{device_index}"
    t = stack.st_torch.load_file(problem_path, device=device)
    # Guard zones (EXTERNAL_PROTOCOL.md): weights and scales between 0xFF bytes, so an out-of-bounds
    # read inside AITER turns the output NaN instead of reading whatever the allocator left there.
    for name in mx.GUARDED_TENSORS:
        t[name] = mx.torch_guarded(torch, t[name], c.guard_bytes)

    # The weights are viewed as AITER's fp4x2 dtype exactly as SGLang's _apply_aiter does. A view is a
    # new tensor without the Python attribute, so is_shuffled is set on the views, not on the loaded
    # uint8 tensors (losing it there was the original GPT-OSS bug).
    w1 = t["w13"].view(stack.fp4x2)
    w2 = t["w2"].view(stack.fp4x2)
    if c.is_shuffled:
        w1.is_shuffled = True
        w2.is_shuffled = True

    kwargs = dict(
        hidden_states=t["hidden"],
        w1=w1,
        w2=w2,
        topk_weight=t["topk_weights"].to(torch.float32),
        topk_ids=t["topk_ids"].to(torch.int32),
        quant_type=stack.quant_type.per_1x32,
        activation=stack.activation_type.Swiglu,
        w1_scale=t["w13_scale"],
        w2_scale=t["w2_scale"],
        a1_scale=None,
        a2_scale=None,
        bias1=t["w13_bias"],
        bias2=t["w2_bias"],
        expert_mask=None,
        doweight_stage1=False,
        hidden_pad=c.hidden_pad,
        intermediate_pad=c.intermediate_pad,
        swiglu_limit=c.swiglu_limit,
    )
    kwargs.update(gate_mode_arguments(stack, c.gate_mode))
    try:
        out = stack.fused_moe(**kwargs)
        torch.cuda.synchronize(device_index)
    except Exception as e:
        raise AdapterError(f"aiter fused_moe failed: {type(e).__name__}: {e}", EXIT_ENVIRONMENT) from e

    expected = (c.tokens, c.hidden_padded)
    if tuple(out.shape) != expected:
        raise AdapterError(f"aiter fused_moe returned shape {list(out.shape)}, expected {list(expected)} "
                           "([T, H_p])", EXIT_ENVIRONMENT)
    # SGLang's FusedMoE.forward cuts the padded columns off; the protocol wants the unpadded [T, H].
    return out[:, : c.hidden_size].to(torch.bfloat16).contiguous().cpu()


def write_output(stack: Stack, y: Any, out_path: str, metadata: dict[str, str]) -> None:
    """Writes tensor y next to OUT and renames it into place, so mxguard never reads a half-written file."""
    metadata = {**metadata, "adapter": "ci/adapters/aiter_fused_moe.py",
                "aiter": str(getattr(stack.aiter, "__version__", "unknown")), "torch": str(stack.torch.__version__)}
    partial = out_path + ".partial"
    try:
        stack.st_torch.save_file({"y": y}, partial, metadata=metadata)
        os.replace(partial, out_path)
    except OSError as e:
        raise AdapterError(f"{out_path}: cannot write the output: {e.strerror}", EXIT_ENVIRONMENT) from e


def make_adapter(device_index: int, any_arch: bool) -> mx.Adapter:
    """The AITER call as an mxguard_adapter.Adapter: torch, AITER and the GPU are set up once per
    process (once per run with --worker), then each problem is one fused_moe call."""
    state: dict[str, Any] = {}

    def setup() -> mx.Ready:
        stack = import_stack()
        arch = check_device(stack, device_index, any_arch)
        state["stack"] = stack
        torch = stack.torch
        versions = {"python": platform.python_version(), "torch": str(torch.__version__),
                    "hip": str(getattr(torch.version, "hip", None)),
                    "aiter": str(getattr(stack.aiter, "__version__", "unknown"))}
        try:
            name = torch.cuda.get_device_name(device_index)
        except Exception:  # a stand-in torch in the tests, or an old build
            name = ""
        return mx.Ready(device=f"{arch} {name}".strip() + f" (torch device {device_index})", versions=versions,
                        kernel_version=versions["aiter"])

    def run(problem: mx.Problem) -> Any:
        check_alpha(problem.path, problem.contract)
        return run_aiter(state["stack"], problem.path, problem.contract, device_index)

    def write(y: Any, path: str, metadata: dict[str, str]) -> None:
        write_output(state["stack"], y, path, metadata)

    return mx.Adapter(run, kernel="aiter.fused_moe.fused_moe (SGLang MXFP4 arguments)", setup=setup,
                      write_output=write, name="aiter_fused_moe.py")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiter_fused_moe.py",
        description="mxguard external-backend adapter: run the fused-MoE problem in IN through AMD AITER's "
                    "fused_moe with the arguments SGLang's MXFP4 (GPT-OSS) path passes, and write y [T, H] "
                    "BF16 to OUT (protocol v1); or, with --worker, serve one problem per request on stdin/stdout "
                    "with torch and AITER loaded once (protocol v2). Protocol: kernels/backend/EXTERNAL_PROTOCOL.md; "
                    "details: ci/adapters/README.md.",
        epilog="examples:\n"
               "  mxguard matrix --backend external --jobs 1 \\\n"
               "      --kernel-worker 'python3 ci/adapters/aiter_fused_moe.py --worker'\n"
               "  mxguard matrix --backend external --kernel-cmd 'python3 ci/adapters/aiter_fused_moe.py {in} {out}'\n"
               "  python3 ci/adapters/aiter_fused_moe.py --dry-run problem.safetensors\n"
               "exit status: 0 ok, 2 bad arguments or problem file, 3 no torch/aiter/AMD GPU or AITER failed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mx.add_protocol_arguments(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="validate IN and print the fused_moe call it maps to; needs neither torch nor a GPU")
    parser.add_argument("--device", type=int, default=0, metavar="N",
                        help="GPU index among those visible (default: 0; mxguard --devices sets the visible one)")
    parser.add_argument("--any-arch", action="store_true",
                        help="run on an AMD GPU other than gfx95x instead of refusing")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dry_run:
        if args.problem is None or args.worker:
            parser.error("--dry-run checks one problem file: give IN, not --worker")
        try:
            metadata, tensors = read_header(args.problem)
            print(describe_call(parse_contract(args.problem, metadata, tensors)))
        except AdapterError as e:
            print(f"aiter_fused_moe.py: error: {e}", file=sys.stderr)
            return e.exit_code
        return EXIT_OK
    if not args.worker and args.problem is not None and args.output is None:
        parser.error("OUT is required unless --dry-run or --worker is given")
    if not args.worker:
        # Protocol v1: a bad problem file is reported before torch and AITER are imported.
        try:
            metadata, tensors = read_header(args.problem) if args.problem else ({}, {})
            if args.problem:
                parse_contract(args.problem, metadata, tensors)
        except AdapterError as e:
            print(f"aiter_fused_moe.py: error: {e}", file=sys.stderr)
            return e.exit_code
    return mx.dispatch(make_adapter(args.device, args.any_arch), parser, args)


if __name__ == "__main__":
    sys.exit(main())
