#!/usr/bin/env python3
# External-protocol adapter: runs one mxguard problem file through AMD AITER's fused MoE with the arguments SGLang passes.
"""Run one mxguard fused-MoE problem through AITER's ``fused_moe`` the way SGLang's MXFP4 path calls it.

mxguard's ``external`` backend (kernels/backend/EXTERNAL_PROTOCOL.md) writes a problem file (device-
layout tensors plus the contract fields as safetensors ``__metadata__``), runs this script as
``python3 ci/adapters/aiter_fused_moe.py {in} {out}`` and reads tensor ``y`` ([T, H] BF16) back.

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
treats any non-zero status as that combination's infrastructure ERROR and shows this stderr.

The header checks and --dry-run use only the standard library, so a problem file can be checked on a
machine without torch or a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import math
import os
import struct
import sys
from typing import Any

PROTOCOL_VERSION = "1"
EXIT_OK = 0
EXIT_INPUT = 2
EXIT_ENVIRONMENT = 3

# AITER's SwiGLU kernels hard-code the GPT-OSS sigmoid slope; there is no argument to pass another.
AITER_SWIGLU_ALPHA = 1.702
ALPHA_TOLERANCE = 1e-6

# One E8M0 scale per 32 E2M1 elements (OCP MX v1.0); two E2M1 codes per byte.
MX_BLOCK = 32
# A safetensors header larger than this is not something mxguard writes; refuse instead of reading it.
MAX_HEADER_BYTES = 64 << 20

DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}

# Tensor name -> (dtype, rank, what it holds) per EXTERNAL_PROTOCOL.md.
TENSOR_CONTRACT = {
    "hidden": ("BF16", 2, "[T, H_p] activations"),
    "w13": ("U8", 3, "[E, 2*I_p, H_p/2] packed E2M1 gate/up weights"),
    "w13_scale": ("U8", 2, "[rows >= E*2*I_p, cols >= H_p/32] E8M0 scales of w13"),
    "w2": ("U8", 3, "[E, H_p, I_p/2] packed E2M1 down weights"),
    "w2_scale": ("U8", 2, "[rows >= E*H_p, cols >= I_p/32] E8M0 scales of w2"),
    "w13_bias": ("F32", 2, "[E, 2*I_p] gate/up bias, [gate | up] order"),
    "w2_bias": ("F32", 2, "[E, H_p] down bias"),
    "topk_ids": ("I32", 2, "[T, k] routed experts"),
    "topk_weights": ("F32", 2, "[T, k] routing weights"),
}

CONTRACT_KEYS = ("gate_mode", "is_shuffled", "hidden_pad", "intermediate_pad", "swiglu_limit", "alpha")
GATE_MODES = ("separated", "interleave")


class AdapterError(Exception):
    """A failure with the exit status it maps to; the message is one line naming file and field."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Contract:
    """The contract fields and the sizes derived from the tensor shapes."""

    gate_mode: str
    is_shuffled: bool
    hidden_pad: int
    intermediate_pad: int
    swiglu_limit: float
    alpha: float
    tokens: int
    experts: int
    topk: int
    hidden_padded: int
    intermediate_padded: int

    @property
    def hidden_size(self) -> int:
        return self.hidden_padded - self.hidden_pad


def input_error(path: str, field: str, what: str) -> AdapterError:
    return AdapterError(f"{path}: {field}: {what}", EXIT_INPUT)


def read_header(path: str) -> tuple[dict[str, str], dict[str, TensorInfo]]:
    """Reads a safetensors header with the standard library: (__metadata__, name -> TensorInfo)."""
    try:
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) != 8:
                raise input_error(path, "header", f"file is {len(prefix)} bytes, too short for a safetensors file")
            (header_len,) = struct.unpack("<Q", prefix)
            file_size = os.fstat(f.fileno()).st_size
            if header_len > min(MAX_HEADER_BYTES, file_size - 8):
                raise input_error(path, "header", f"length {header_len} exceeds the file ({file_size} bytes)")
            raw = f.read(header_len)
    except OSError as e:
        raise input_error(path, "file", f"cannot read: {e.strerror}") from e
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise input_error(path, "header", f"is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise input_error(path, "header", "is not a JSON object")

    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise input_error(path, "__metadata__", "must map keys to strings")
    data_size = file_size - 8 - header_len
    tensors = {}
    for name, entry in header.items():
        tensors[name] = parse_tensor_entry(path, name, entry, data_size)
    return metadata, tensors


def parse_tensor_entry(path: str, name: str, entry: Any, data_size: int) -> TensorInfo:
    if not isinstance(entry, dict):
        raise input_error(path, name, "header entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise input_error(path, name, f"dtype {dtype!r} is not a safetensors dtype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise input_error(path, name, f"shape {shape!r} is not a list of non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise input_error(path, name, f"data_offsets {offsets!r} do not lie within the {data_size} data bytes")
    expected = math.prod(shape) * DTYPE_BYTES[dtype]
    if offsets[1] - offsets[0] != expected:
        raise input_error(path, name, f"holds {offsets[1] - offsets[0]} bytes, shape {shape} of {dtype} needs {expected}")
    return TensorInfo(dtype, tuple(shape))


def parse_int(path: str, metadata: dict[str, str], key: str) -> int:
    text = metadata[key]
    try:
        return int(text)
    except ValueError:
        raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, not an integer") from None


def parse_float(path: str, metadata: dict[str, str], key: str) -> float:
    text = metadata[key]
    try:
        value = float(text)
    except ValueError:
        raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, expected a finite number")
    return value


def parse_bool(path: str, metadata: dict[str, str], key: str) -> bool:
    text = metadata[key]
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, expected true or false")


def check_tensor_kinds(path: str, tensors: dict[str, TensorInfo]) -> None:
    for name, (dtype, rank, meaning) in TENSOR_CONTRACT.items():
        info = tensors.get(name)
        if info is None:
            raise input_error(path, name, f"tensor is missing (expected {dtype} {meaning})")
        if info.dtype != dtype:
            raise input_error(path, name, f"dtype is {info.dtype}, expected {dtype} ({meaning})")
        if len(info.shape) != rank:
            raise input_error(path, name, f"rank is {len(info.shape)} (shape {list(info.shape)}), expected {rank} ({meaning})")


def expect_dim(path: str, tensors: dict[str, TensorInfo], name: str, dim: int, expected: int, why: str) -> None:
    found = tensors[name].shape[dim]
    if found != expected:
        raise input_error(path, name, f"dim {dim} is {found}, expected {expected} ({why}); shape {list(tensors[name].shape)}")


def check_scales(path: str, tensors: dict[str, TensorInfo], name: str, rows: int, cols: int, shuffled: bool) -> None:
    found_rows, found_cols = tensors[name].shape
    if found_rows < rows or found_cols < cols:
        raise input_error(path, name, f"shape {[found_rows, found_cols]} is smaller than the {[rows, cols]} scales it must hold")
    if shuffled and (found_rows % 32 or found_cols % 8):
        raise input_error(path, name, f"shape {[found_rows, found_cols]} cannot hold shuffled scales "
                                      "(is_shuffled = true needs rows % 32 == 0 and cols % 8 == 0)")


def parse_contract(path: str, metadata: dict[str, str], tensors: dict[str, TensorInfo]) -> Contract:
    """Validates the problem file against EXTERNAL_PROTOCOL.md and returns its contract."""
    version = metadata.get("mxguard.protocol")
    if version != PROTOCOL_VERSION:
        raise input_error(path, "__metadata__ 'mxguard.protocol'",
                          f"is {version!r}, this adapter reads version {PROTOCOL_VERSION}")
    for key in CONTRACT_KEYS:
        if key not in metadata:
            raise input_error(path, f"__metadata__ '{key}'", "is missing (a problem file needs " + ", ".join(CONTRACT_KEYS) + ")")
    gate_mode = metadata["gate_mode"]
    if gate_mode not in GATE_MODES:
        raise input_error(path, "__metadata__ 'gate_mode'", f"is {gate_mode!r}, expected separated or interleave")

    check_tensor_kinds(path, tensors)
    tokens, hidden_padded = tensors["hidden"].shape
    experts, rows13, _ = tensors["w13"].shape
    if hidden_padded <= 0 or hidden_padded % MX_BLOCK:
        raise input_error(path, "hidden", f"dim 1 (H_p) is {hidden_padded}, expected a positive multiple of {MX_BLOCK}")
    if experts <= 0 or rows13 <= 0 or rows13 % (2 * MX_BLOCK):
        raise input_error(path, "w13", f"shape {list(tensors['w13'].shape)} needs E >= 1 and 2*I_p a positive multiple of 64")
    intermediate_padded = rows13 // 2
    shuffled = parse_bool(path, metadata, "is_shuffled")
    expect_dim(path, tensors, "w13", 2, hidden_padded // 2, f"H_p/2 with H_p = {hidden_padded} from hidden")
    expect_dim(path, tensors, "w2", 0, experts, "E from w13")
    expect_dim(path, tensors, "w2", 1, hidden_padded, "H_p from hidden")
    expect_dim(path, tensors, "w2", 2, intermediate_padded // 2, f"I_p/2 with I_p = {intermediate_padded} from w13")
    check_scales(path, tensors, "w13_scale", experts * rows13, hidden_padded // MX_BLOCK, shuffled)
    check_scales(path, tensors, "w2_scale", experts * hidden_padded, intermediate_padded // MX_BLOCK, shuffled)
    expect_dim(path, tensors, "w13_bias", 0, experts, "E from w13")
    expect_dim(path, tensors, "w13_bias", 1, rows13, "2*I_p from w13")
    expect_dim(path, tensors, "w2_bias", 0, experts, "E from w13")
    expect_dim(path, tensors, "w2_bias", 1, hidden_padded, "H_p from hidden")
    expect_dim(path, tensors, "topk_ids", 0, tokens, "T from hidden")
    topk = tensors["topk_ids"].shape[1]
    if topk <= 0:
        raise input_error(path, "topk_ids", f"dim 1 (k) is {topk}, expected at least 1")
    expect_dim(path, tensors, "topk_weights", 0, tokens, "T from hidden")
    expect_dim(path, tensors, "topk_weights", 1, topk, "k from topk_ids")

    contract = Contract(
        gate_mode=gate_mode,
        is_shuffled=shuffled,
        hidden_pad=parse_int(path, metadata, "hidden_pad"),
        intermediate_pad=parse_int(path, metadata, "intermediate_pad"),
        swiglu_limit=parse_float(path, metadata, "swiglu_limit"),
        alpha=parse_float(path, metadata, "alpha"),
        tokens=tokens, experts=experts, topk=topk,
        hidden_padded=hidden_padded, intermediate_padded=intermediate_padded,
    )
    if not 0 <= contract.hidden_pad < hidden_padded:
        raise input_error(path, "__metadata__ 'hidden_pad'", f"is {contract.hidden_pad}, expected 0 <= hidden_pad < H_p = {hidden_padded}")
    if not 0 <= contract.intermediate_pad < intermediate_padded:
        raise input_error(path, "__metadata__ 'intermediate_pad'",
                          f"is {contract.intermediate_pad}, expected 0 <= intermediate_pad < I_p = {intermediate_padded}")
    if contract.swiglu_limit <= 0:
        raise input_error(path, "__metadata__ 'swiglu_limit'", f"is {contract.swiglu_limit}, expected a positive number")
    if abs(contract.alpha - AITER_SWIGLU_ALPHA) > ALPHA_TOLERANCE:
        raise input_error(path, "__metadata__ 'alpha'",
                          f"is {contract.alpha}, but AITER's SwiGLU fixes the sigmoid slope at {AITER_SWIGLU_ALPHA} "
                          "and takes no argument for it")
    check_derived_sizes(path, metadata, contract)
    return contract


def check_derived_sizes(path: str, metadata: dict[str, str], c: Contract) -> None:
    """The convenience sizes in __metadata__ are optional; when present they must agree with the tensors."""
    derived = {"tokens": c.tokens, "experts": c.experts, "topk": c.topk, "hidden_size": c.hidden_size,
               "hidden_padded": c.hidden_padded, "intermediate_padded": c.intermediate_padded,
               "intermediate_size": c.intermediate_padded - c.intermediate_pad}
    for key, value in derived.items():
        if key in metadata and parse_int(path, metadata, key) != value:
            raise input_error(path, f"__metadata__ '{key}'", f"is {metadata[key]}, the tensors and pads give {value}")


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


def write_output(stack: Stack, y: Any, out_path: str, arch: str) -> None:
    """Writes tensor y next to OUT and renames it into place, so mxguard never reads a half-written file."""
    metadata = {"adapter": "ci/adapters/aiter_fused_moe.py", "device": arch,
                "aiter": str(getattr(stack.aiter, "__version__", "unknown")), "torch": str(stack.torch.__version__)}
    partial = out_path + ".partial"
    try:
        stack.st_torch.save_file({"y": y}, partial, metadata=metadata)
        os.replace(partial, out_path)
    except OSError as e:
        raise AdapterError(f"{out_path}: cannot write the output: {e.strerror}", EXIT_ENVIRONMENT) from e


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiter_fused_moe.py",
        description="mxguard external-backend adapter: run the fused-MoE problem in IN through AMD AITER's "
                    "fused_moe with the arguments SGLang's MXFP4 (GPT-OSS) path passes, and write y [T, H] "
                    "BF16 to OUT. Protocol: kernels/backend/EXTERNAL_PROTOCOL.md; details: ci/adapters/README.md.",
        epilog="examples:\n"
               "  mxguard matrix --backend external --isolate --jobs 1 \\\n"
               "      --kernel-cmd 'python3 ci/adapters/aiter_fused_moe.py {in} {out}'\n"
               "  python3 ci/adapters/aiter_fused_moe.py --dry-run problem.safetensors\n"
               "exit status: 0 ok, 2 bad arguments or problem file, 3 no torch/aiter/AMD GPU or AITER failed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("problem", metavar="IN", help="problem file written by mxguard (safetensors)")
    parser.add_argument("output", metavar="OUT", nargs="?", help="output file: safetensors with tensor y (not needed with --dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate IN and print the fused_moe call it maps to; needs neither torch nor a GPU")
    parser.add_argument("--device", type=int, default=0, metavar="N", help="GPU index (default: 0)")
    parser.add_argument("--any-arch", action="store_true",
                        help="run on an AMD GPU other than gfx95x instead of refusing")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.output is None and not args.dry_run:
        parser.error("OUT is required unless --dry-run is given")
    try:
        metadata, tensors = read_header(args.problem)
        contract = parse_contract(args.problem, metadata, tensors)
        if args.dry_run:
            print(describe_call(contract))
            return EXIT_OK
        stack = import_stack()
        arch = check_device(stack, args.device, args.any_arch)
        y = run_aiter(stack, args.problem, contract, args.device)
        write_output(stack, y, args.output, arch)
    except AdapterError as e:
        print(f"aiter_fused_moe.py: error: {e}", file=sys.stderr)
        return e.exit_code
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
