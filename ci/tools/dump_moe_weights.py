#!/usr/bin/env python3
"""Dump one MoE layer's expert weights from inside a serving process, for ``mxguard diagnose``.

Run it in the process that serves the model (SGLang, vLLM or anything PyTorch), after the weights
were loaded *and post-processed* (``process_weights_after_loading`` has shuffled / padded them),
e.g. before the first request::

    import sys; sys.path.insert(0, "/path/to/mxguard/ci/tools")
    from dump_moe_weights import dump_layer
    dump_layer(model, layer=3, path="/tmp/layer3-tp{tp_rank}.safetensors")

``model`` is the model object (its ``named_modules()`` are searched for the layer's expert module,
the one holding ``w13_weight``) or that FusedMoE module itself. It writes

* ``PATH``: a safetensors file with the module's ``w13_weight``, ``w13_weight_scale``,
  ``w13_weight_bias`` / ``w13_bias``, ``w2_weight``, ``w2_weight_scale``, ``w2_weight_bias`` /
  ``w2_bias`` (whatever exists), named ``<module path>.<parameter>``, holding the raw bytes as the
  process has them: uint8 stays U8, bf16 stays BF16; dtypes safetensors cannot name (float4 /
  float8 / e8m0 / unsigned wider than a byte) are saved as U8 views of their bytes;
* ``PATH.json``: the sidecar (schema: ci/tools/README.md) with each tensor's torch dtype and shape,
  its ``is_shuffled`` attribute (a view or ``.data =`` drops it: recording it is the point) and
  other plain Python attributes, the gate mode, tp / ep rank and size, and the layout-relevant
  environment variables.

``{tp_rank}``, ``{tp_size}``, ``{ep_rank}``, ``{ep_size}`` and ``{layer}`` in PATH are filled in, so
every rank can run the same line. Then hand the file to ``mxguard diagnose weights`` on any machine
(``mxguard diagnose weights --help`` lists its options).

Only the standard library is needed to write the file (no ``safetensors`` package); torch is
imported lazily, only for ``torch.uint8`` views and ``torch.distributed``. ``python3
dump_moe_weights.py --help`` shows how to call it from SGLang or vLLM; ``--describe FILE`` prints
what a dump holds without torch.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import struct
import sys
from typing import Any, Iterable, Mapping, Optional

FORMAT = "mxguard-moe-dump"
VERSION = 1
CREATED_BY = f"ci/tools/dump_moe_weights.py {VERSION}"

# Expert parameters in the order they are listed; SGLang spells the biases w13_weight_bias, vLLM w13_bias.
PARAMETERS = ("w13_weight", "w13_weight_scale", "w13_weight_bias", "w13_bias",
              "w2_weight", "w2_weight_scale", "w2_weight_bias", "w2_bias")

# torch dtypes safetensors names and mxguard reads as they are; anything else is saved as U8 bytes.
SAFETENSORS_DTYPES = {
    "torch.uint8": "U8", "torch.bool": "U8", "torch.int8": "I8", "torch.int16": "I16", "torch.int32": "I32",
    "torch.int64": "I64", "torch.float16": "F16", "torch.bfloat16": "BF16", "torch.float32": "F32",
    "torch.float64": "F64",
}

# Environment variables that change how MoE weights are laid out or read.
ENV_PREFIXES = ("SGLANG_", "VLLM_", "AITER_")
ENV_WORDS = ("AITER", "MOE", "MXFP4", "FP4", "SHUFFLE", "ITLV", "INTERLEAVE", "TRITON_KERNELS")
GATE_MODE_ENV = "SGLANG_USE_AITER_MOE_GU_ITLV"
# Module attributes worth recording (and reading a gate mode from): lowercase name fragments.
MODULE_ATTRIBUTE_WORDS = ("interleave", "itlv", "shuffle", "gate_mode", "gate_up", "swiglu", "activation",
                          "padding", "_pad", "bias", "triton", "hidden_size", "intermediate_size", "num_experts",
                          "top_k", "tp_size", "tp_rank", "ep_size", "ep_rank")
PARALLEL_FIELDS = ("tp_size", "tp_rank", "ep_size", "ep_rank")

_LAYER_IN_NAME = re.compile(r"(?:^|\.)layers\.(\d+)\.")


class DumpError(ValueError):
    """The model, module or arguments do not allow a dump; the message says what to pass instead."""


# ---- values -------------------------------------------------------------------------------------

def is_tensor(value: Any) -> bool:
    """Duck-typed: torch tensors and parameters (and the tests' fakes) have these three."""
    return all(hasattr(value, a) for a in ("dtype", "shape", "data_ptr"))


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON value for a Python attribute: scalars and strings as they are, sequences and dicts of
    them recursively, anything else (functions, modules, dtypes) as a short repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if depth < 3 and isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if depth < 3 and isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    text = repr(value)
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)  # addresses differ between runs
    return text if len(text) <= 200 else text[:197] + "..."


def attributes_of(obj: Any) -> dict:
    """The instance attributes of OBJ (what code set with ``param.x = ...``), tensors left out."""
    try:
        items = vars(obj).items()
    except TypeError:
        return {}
    return {k: plain(v) for k, v in sorted(items) if not is_tensor(v) and not k.startswith("__")}


def truthy_env(value: str) -> bool:
    """SGLang's reading of a boolean environment variable (get_bool_env_var): 'true' or '1'."""
    return value.strip().lower() in ("true", "1")


# ---- bytes --------------------------------------------------------------------------------------

def tensor_bytes(t: Any) -> tuple[str, list[int], memoryview, Any]:
    """The one place tensor bytes are taken: returns (safetensors dtype, saved shape, bytes, owner).

    The tensor is made contiguous on the CPU; dtypes safetensors cannot name are viewed as uint8
    (a dtype view keeps the bytes and scales the last dimension by the element size). The bytes are
    a zero-copy memoryview of host memory owned by ``owner``, which must be kept alive while they
    are used."""
    if hasattr(t, "detach"):
        t = t.detach()
    host = t.contiguous().cpu().contiguous()
    name = str(host.dtype)
    dtype = SAFETENSORS_DTYPES.get(name)
    if dtype is None:
        import torch  # lazily: only the uint8 view needs it
        host = host.view(torch.uint8)
        dtype = "U8"
    shape = [int(d) for d in host.shape]
    nbytes = int(host.numel()) * int(host.element_size())
    if nbytes == 0:
        return dtype, shape, memoryview(b""), host
    buffer = (ctypes.c_ubyte * nbytes).from_address(int(host.data_ptr()))
    return dtype, shape, memoryview(buffer).cast("B"), host


# ---- safetensors ----------------------------------------------------------------------------------

_DTYPE_SIZE = {"U8": 1, "I8": 1, "I16": 2, "F16": 2, "BF16": 2, "I32": 4, "F32": 4, "I64": 8, "F64": 8}


def write_safetensors(path: str, tensors: list[tuple[str, str, list[int], memoryview]],
                      metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes (name, dtype, shape, bytes) tuples as safetensors: u64 LE header length, JSON header,
    data. Data is laid out by decreasing element size so every tensor is aligned to its dtype; the
    file appears atomically (temporary file, then rename)."""
    order = sorted(range(len(tensors)), key=lambda i: -_DTYPE_SIZE[tensors[i][1]])  # stable
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offsets: dict[int, tuple[int, int]] = {}
    at = 0
    for i in order:
        offsets[i] = (at, at + len(tensors[i][3]))
        at += len(tensors[i][3])
    for i, (name, dtype, shape, data) in enumerate(tensors):
        expected = _DTYPE_SIZE[dtype]
        for d in shape:
            expected *= d
        if expected != len(data):
            raise DumpError(f"{name}: {dtype} {shape} needs {expected} bytes, got {len(data)}")
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets[i])}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for i in order:
                f.write(tensors[i][3])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_safetensors_header(path: str) -> dict:
    """The JSON header of a safetensors file (for --describe)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


# ---- finding the module and what the process knows ----------------------------------------------------

def has_experts(module: Any) -> bool:
    return any(is_tensor(getattr(module, p, None)) for p in PARAMETERS)


def find_moe_module(model: Any, layer: Optional[int]) -> tuple[str, Any]:
    """(module path, module) of LAYER's expert module; MODEL itself when it holds expert weights."""
    if has_experts(model):
        return "", model
    if layer is None:
        raise DumpError("pass layer=N: the model holds several layers (or pass the FusedMoE module itself)")
    if not hasattr(model, "named_modules"):
        raise DumpError(f"{type(model).__name__} has no named_modules() and no w13_weight: pass the model "
                        "(a torch.nn.Module) or its FusedMoE module")
    all_moe, matches = [], []
    for name, module in model.named_modules():
        if not has_experts(module):
            continue
        all_moe.append(name)
        m = _LAYER_IN_NAME.search(name + ".")
        if m and int(m.group(1)) == layer:
            matches.append((name, module))
    if len(matches) == 1:
        return matches[0]
    found = ", ".join(all_moe[:8]) + (f", ... ({len(all_moe) - 8} more)" if len(all_moe) > 8 else "")
    if not matches:
        raise DumpError(f"no expert module (one holding w13_weight) in layer {layer}; "
                        f"expert modules: {found or 'none'}")
    raise DumpError(f"several expert modules in layer {layer}: {', '.join(n for n, _ in matches)}; "
                    "pass the one you mean as the model argument")


def framework_of(module: Any) -> str:
    origin = type(module).__module__ or ""
    for name in ("sglang", "vllm"):
        if origin == name or origin.startswith(name + "."):
            return name
    return "unknown"


def layout_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(environ.items())
            if k.startswith(ENV_PREFIXES) and any(w in k for w in ENV_WORDS)}


def module_attributes(module: Any) -> dict[str, Any]:
    """Layout-relevant plain attributes of the module and of its quant_method (prefixed)."""
    out: dict[str, Any] = {}
    for prefix, obj in (("", module), ("quant_method.", getattr(module, "quant_method", None))):
        if obj is None:
            continue
        for key, value in attributes_of(obj).items():
            if any(w in key.lower() for w in MODULE_ATTRIBUTE_WORDS) and not isinstance(value, (dict, list)):
                out[prefix + key] = value
    return out


def gate_mode_of(framework: str, attributes: Mapping[str, Any],
                 environ: Mapping[str, str]) -> tuple[Optional[str], Optional[str]]:
    """(gate mode, how it was told): an explicit module attribute first, then SGLang's env switch."""
    for key, value in attributes.items():
        base = key.rsplit(".", 1)[-1].lower()
        if base == "gate_mode":
            text = str(value).rsplit(".", 1)[-1].lower()  # "GateMode.INTERLEAVE" or "interleave"
            if text in ("separated", "interleave"):
                return text, f"module attribute {key}={value}"
        if isinstance(value, bool) and ("itlv" in base or "guinterleave" in base or "gu_interleave" in base):
            return ("interleave" if value else "separated"), f"module attribute {key}={value}"
    if GATE_MODE_ENV in environ and framework != "vllm":
        value = environ[GATE_MODE_ENV]
        return ("interleave" if truthy_env(value) else "separated"), f"env {GATE_MODE_ENV}={value}"
    if framework == "sglang":
        return "separated", f"SGLang default ({GATE_MODE_ENV} unset)"
    return None, None


def parallel_of(module: Any, framework: str) -> dict[str, Optional[int]]:
    """tp / ep size and rank as the sidecar means them: tp is the process's whole tensor-parallel
    group (the server's --tp-size), ep the expert-parallel split; the experts' own tp split is
    tp_size / ep_size (SGLang's moe_tp_size).

    ep comes from the module (SGLang moe_ep_size / moe_ep_rank, vLLM ep_size / ep_rank or its
    moe_parallel_config). tp comes from the framework's tensor-parallel group, else is rebuilt from
    the module's expert tp split (tp = moe_tp · ep, rank = ep_rank · moe_tp + moe_tp_rank), else
    from torch.distributed (world size and rank: right when tp is the only parallelism)."""
    config = getattr(module, "moe_parallel_config", None)

    def first_int(*candidates: tuple[Any, str]) -> Optional[int]:
        for obj, attr in candidates:
            value = getattr(obj, attr, None) if obj is not None else None
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    out: dict[str, Optional[int]] = {k: None for k in PARALLEL_FIELDS}
    out["ep_size"] = first_int((module, "moe_ep_size"), (config, "ep_size"), (module, "ep_size"))
    out["ep_rank"] = first_int((module, "moe_ep_rank"), (config, "ep_rank"), (module, "ep_rank"))
    out["tp_size"], out["tp_rank"] = _framework_tp(framework)
    if out["tp_size"] is None:
        moe_tp = first_int((module, "moe_tp_size"), (config, "tp_size"))
        moe_rank = first_int((module, "moe_tp_rank"), (config, "tp_rank"))
        if moe_tp is not None and moe_rank is not None:
            out["tp_size"] = moe_tp * (out["ep_size"] or 1)
            out["tp_rank"] = (out["ep_rank"] or 0) * moe_tp + moe_rank
        else:
            out["tp_size"], out["tp_rank"] = _torch_world()
    return out


def _framework_tp(framework: str) -> tuple[Optional[int], Optional[int]]:
    """The framework's tensor-parallel group, when it is importable and initialised."""
    module = {"sglang": "sglang.srt.distributed", "vllm": "vllm.distributed"}.get(framework)
    if module is None:
        return None, None
    try:
        dist = __import__(module, fromlist=["get_tensor_model_parallel_world_size"])
        return int(dist.get_tensor_model_parallel_world_size()), int(dist.get_tensor_model_parallel_rank())
    except Exception:  # not importable, not initialised, or another version's layout
        return None, None


def _torch_world() -> tuple[Optional[int], Optional[int]]:
    try:
        import torch
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return int(torch.distributed.get_world_size()), int(torch.distributed.get_rank())
    except ImportError:
        pass
    return None, None


def check_parallel(p: Mapping[str, Optional[int]]) -> None:
    for kind in ("tp", "ep"):
        size, rank = p[f"{kind}_size"], p[f"{kind}_rank"]
        if size is not None and size < 1:
            raise DumpError(f"{kind}_size = {size} must be >= 1")
        if rank is not None and (size is None or not 0 <= rank < size):
            raise DumpError(f"{kind}_rank = {rank} must be in [0, {kind}_size) with {kind}_size = {size}")


# ---- the dump ---------------------------------------------------------------------------------------

def dump_layer(model: Any, layer: Optional[int] = None, path: str = "moe_dump.safetensors", *,
               module_name: Optional[str] = None, framework: Optional[str] = None,
               environ: Optional[Mapping[str, str]] = None, **parallel: Optional[int]) -> str:
    """Saves LAYER's expert parameters of MODEL to PATH (safetensors) and PATH.json (sidecar).

    module_name / framework override what is found; tp_size=, tp_rank=, ep_size=, ep_rank= override
    the parallel layout; environ replaces os.environ (tests). Returns the path written."""
    unknown = set(parallel) - set(PARALLEL_FIELDS)
    if unknown:
        raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(unknown))}")
    env = dict(os.environ if environ is None else environ)
    found_name, module = find_moe_module(model, layer)
    name = found_name if module_name is None else module_name
    fw = framework or framework_of(module)
    mod_attrs = module_attributes(module)
    gate_mode, gate_source = gate_mode_of(fw, mod_attrs, env)
    par = parallel_of(module, fw)
    par.update({k: v for k, v in parallel.items() if v is not None})
    check_parallel(par)
    if layer is None and name:
        m = _LAYER_IN_NAME.search(name + ".")
        layer = int(m.group(1)) if m else None

    path = str(path).format(layer=layer, **par)
    tensors, entries, owners = [], {}, []
    for param in PARAMETERS:
        t = getattr(module, param, None)
        if not is_tensor(t):
            continue
        full = f"{name}.{param}" if name else param
        dtype, shape, data, owner = tensor_bytes(t)
        owners.append(owner)  # keeps the host copies alive until written
        tensors.append((full, dtype, shape, data))
        attrs = attributes_of(t)
        shuffled = attrs.get("is_shuffled")
        if isinstance(shuffled, bool):  # anything else stays in attributes, as found
            del attrs["is_shuffled"]
        entries[full] = {
            "parameter": param,
            "dtype_in_process": str(t.dtype),
            "shape_in_process": [int(d) for d in t.shape],
            "dtype_saved": dtype,
            "shape_saved": shape,
            "is_shuffled": shuffled if isinstance(shuffled, bool) else None,
            "attributes": attrs,
        }
    if not tensors:
        raise DumpError(f"{name or type(module).__name__} holds none of {', '.join(PARAMETERS)}")

    sidecar = {
        "format": FORMAT,
        "version": VERSION,
        "created_by": CREATED_BY,
        "framework": fw,
        "layer": layer,
        "module": name,
        "module_class": type(module).__name__,
        "module_attributes": mod_attrs,
        "gate_mode": gate_mode,
        "gate_mode_source": gate_source,
        **par,
        "environment": layout_environment(env),
        "tensors": entries,
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    write_safetensors(path, tensors, {"format": "pt", "mxguard.dump": FORMAT})
    sidecar_path = path + ".json"
    tmp = f"{sidecar_path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    os.replace(tmp, sidecar_path)
    return path


# ---- command line --------------------------------------------------------------------------------------

USAGE = """\
This tool runs INSIDE the serving process; the command line only explains it and inspects dumps.

From Python, once the model is loaded and post-processed:

    import sys; sys.path.insert(0, "/path/to/mxguard/ci/tools")
    from dump_moe_weights import dump_layer
    dump_layer(model, layer=3, path="/tmp/layer3-tp{tp_rank}.safetensors")

SGLang: `model` is ModelRunner.model in each tensor-parallel worker. One way is a two-line patch
after the weights are loaded (ModelRunner.load_model in python/sglang/srt/model_executor/
model_runner.py), or the same call from a debugger stopped in that process.
vLLM: `model` is the worker's model_runner.model; with the offline LLM class, e.g.
    llm.collective_rpc(lambda worker: __import__("dump_moe_weights").dump_layer(
        worker.model_runner.model, layer=3, path="/tmp/layer3-tp{tp_rank}.safetensors"))
(the worker API differs between vLLM versions; any route to the nn.Module works).

The dump is PATH (safetensors, raw bytes) plus PATH.json (sidecar; schema in ci/tools/README.md).
{tp_rank} {tp_size} {ep_rank} {ep_size} {layer} in PATH are filled in per rank.
Then hand PATH to `mxguard diagnose weights` (see `mxguard diagnose weights --help`).
"""


def describe(path: str) -> str:
    """A summary of a dump and its sidecar, using only the standard library."""
    lines = [path]
    header = read_safetensors_header(path)
    for name, entry in header.items():
        if name != "__metadata__":
            lines.append(f"  {name}: {entry['dtype']} {entry['shape']}")
    sidecar_path = path + ".json"
    if os.path.exists(sidecar_path):
        with open(sidecar_path, encoding="utf-8") as f:
            s = json.load(f)
        lines.append(f"{sidecar_path}: {s.get('framework')} layer {s.get('layer')} module {s.get('module')!r}")
        lines.append(f"  gate_mode {s.get('gate_mode')} ({s.get('gate_mode_source')}); "
                     + " ".join(f"{k}={s.get(k)}" for k in PARALLEL_FIELDS))
        for name, t in s.get("tensors", {}).items():
            lines.append(f"  {name}: {t['dtype_in_process']} {t['shape_in_process']} "
                         f"is_shuffled={t['is_shuffled']}")
    else:
        lines.append(f"(no sidecar {sidecar_path})")
    return "\n".join(lines)


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dump_moe_weights.py",
        description="Dump one MoE layer's expert weights from inside a serving process for mxguard diagnose.",
        epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--describe", metavar="FILE", help="print what a dump (and its sidecar) holds")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not args.describe:
        parser.print_help()
        return 0
    try:
        print(describe(args.describe))
    except (OSError, ValueError, KeyError, struct.error) as e:
        print(f"{args.describe}: cannot read: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
