#!/usr/bin/python3
"""Convert one GPT-OSS MoE layer's expert tensors with llama.cpp's own converter.

The ggml kernel family's "stack mode": instead of mxguard's model of the converter
(kernels/layout/ggml_convert.hpp), the converter under test itself prepares the weights. This
script runs llama.cpp's ``conversion`` package (``GptOssModel`` of ``conversion/gpt_oss.py`` and
``conversion/base.py``, from a possibly patched copy) through its normal entry point,
``prepare_tensors()``, on a one-layer model built from the input file, captures what it hands to
the GGUF writer, and saves the expert tensors under mxguard's GgmlExperts names.

Input (``--in``), safetensors, mxguard's canonical names (kernels/layout/ggml_experts_io.hpp):

    gate_up_blocks U8 [E, 2I, H/32, 16]   gate_up_scales U8 [E, 2I, H/32]   gate_up_bias F32|BF16|F16 [E, 2I]
    down_blocks    U8 [E, H, I/32, 16]    down_scales    U8 [E, H, I/32]    down_bias    F32|BF16|F16 [E, H]

or, with ``--layer L``, a Hugging Face GPT-OSS file's ``model.layers.L.mlp.experts.<name>``
(``gate_up_proj_blocks`` ...).

Output (``--out``), safetensors: ``gate``, ``up`` U8 [E, I, H/32*17], ``down`` U8 [E, H, I/32*17],
``gate_bias``, ``up_bias``, ``down_bias`` F32 (or ``gate_up`` and ``gate_up_bias`` if the converter
wrote llama.cpp's merged ffn_gate_up_exps instead of gate and up), exactly the bytes the converter
would put into the GGUF, and metadata naming the converter folder.

Where llama.cpp is: ``--llama-cpp DIR`` (for ``gguf-py`` and the default converter), else
``$MXG_GGML_SOURCE``, else ``<repo>/.deps/llama.cpp`` (ci/fetch-llama-cpp fills it).
``--converter-dir DIR``: the ``conversion`` package folder to run (default ``<llama.cpp>/conversion``).

Needs torch and numpy (Debian's python3-torch and python3-numpy for /usr/bin/python3). Two gaps
between that environment and what the converter's imports expect are bridged without touching
its code: ``transformers`` (imported at module level for AutoConfig, unused here because the
hyper-parameters are passed in) gets a stand-in module when it is not installed, and torch
versions without the float8 dtypes (which the converter only uses as dictionary keys) get
placeholder attributes.

Exit codes: 0 written; 2 bad input (file, tensor, shape); 3 the converter could not be imported
or run (one line on stderr saying what failed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import struct
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

CANONICAL = ("gate_up_blocks", "gate_up_scales", "gate_up_bias", "down_blocks", "down_scales", "down_bias")
EXIT_INPUT = 2
EXIT_INFRA = 3


class InputProblem(Exception):
    """Bad input: exit 2."""


class InfraProblem(Exception):
    """The converter or its environment failed: exit 3."""


def default_llama_cpp() -> Path:
    env = os.environ.get("MXG_GGML_SOURCE", "")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / ".deps" / "llama.cpp"


def hugging_face_name(canonical: str, layer: int) -> str:
    stem, _, kind = canonical.rpartition("_")
    return f"model.layers.{layer}.mlp.experts.{stem}_proj_{kind}"


# ---- safetensors (standard library only) ----------------------------------------------------

def read_safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise InputProblem(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
            (n,) = struct.unpack("<Q", raw)
            header = json.loads(f.read(n))
    except OSError as e:
        raise InputProblem(f"{path}: cannot read ({e.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputProblem(f"{path}: safetensors header is not JSON ({e})") from None
    header.pop("__metadata__", None)
    return header, 8 + n


def copy_layer_as_checkpoint(src: Path, layer: int | None, dst: Path) -> dict[str, Any]:
    """Writes the six tensors to dst under the names a one-layer (layer 0) GPT-OSS checkpoint uses,
    in name order (the converter pairs each _blocks tensor with the _scales tensor after it)."""
    header, data_start = read_safetensors_header(src)
    wanted = {(hugging_face_name(c, layer) if layer is not None else c): hugging_face_name(c, 0) for c in CANONICAL}
    missing = [name for name in wanted if name not in header]
    if missing:
        raise InputProblem(f"{src}: no tensor '{missing[0]}' (found: {', '.join(sorted(header)[:12])})")
    out_header: dict[str, Any] = {}
    offset = 0
    order = sorted(wanted, key=lambda n: wanted[n])
    for name in order:
        begin, end = header[name]["data_offsets"]
        out_header[wanted[name]] = {"dtype": header[name]["dtype"], "shape": header[name]["shape"],
                                    "data_offsets": [offset, offset + end - begin]}
        offset += end - begin
    blob = json.dumps(out_header).encode()
    blob += b" " * (-len(blob) % 8)
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(struct.pack("<Q", len(blob)))
        out.write(blob)
        for name in order:
            begin, end = header[name]["data_offsets"]
            f.seek(data_start + begin)
            out.write(f.read(end - begin))
    return {wanted[n]: header[n] for n in wanted}


def write_safetensors(path: Path, tensors: list[tuple[str, Any]], metadata: dict[str, str]) -> None:
    dtypes = {"uint8": "U8", "float32": "F32"}
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, array in tensors:
        kind = dtypes.get(str(array.dtype))
        if kind is None:
            raise InfraProblem(f"converter wrote {name} as {array.dtype}, expected uint8 or float32")
        header[name] = {"dtype": kind, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as out:
        out.write(struct.pack("<Q", len(blob)))
        out.write(blob)
        for _, array in tensors:
            out.write(array.tobytes(order="C"))
    os.replace(tmp, path)


# ---- the converter ----------------------------------------------------------------------------

def import_converter(llama_cpp: Path, converter_dir: Path):
    """Imports converter_dir as the package `conversion` (its modules import each other relatively
    and as `conversion`), with gguf from llama_cpp/gguf-py. Returns (GptOssModel, gguf)."""
    init = converter_dir / "__init__.py"
    if not init.is_file():
        raise InfraProblem(f"--converter-dir {converter_dir}: no __init__.py (not llama.cpp's conversion folder)")
    gguf_py = llama_cpp / "gguf-py"
    if not (gguf_py / "gguf").is_dir():
        raise InfraProblem(f"{gguf_py}: no gguf package (set --llama-cpp or MXG_GGML_SOURCE to a llama.cpp checkout)")
    sys.path.insert(0, str(gguf_py))
    try:
        import numpy  # noqa: F401
        import torch
    except ImportError as e:
        raise InfraProblem(f"{sys.executable} cannot import {e.name} (Debian: python3-torch, python3-numpy)") from None
    for name in ("float8_e4m3fn", "float8_e5m2"):
        if not hasattr(torch, name):
            setattr(torch, name, object())  # only ever a dictionary key in the converter
    try:
        import transformers  # noqa: F401
    except ImportError:
        stand_in = types.ModuleType("transformers")

        class AutoConfig:  # the converter falls back to config.json / passed hparams without it
            @staticmethod
            def from_pretrained(*_args, **_kwargs):
                raise ImportError("transformers is not installed")

        stand_in.AutoConfig = AutoConfig
        sys.modules["transformers"] = stand_in
    try:
        spec = importlib.util.spec_from_file_location("conversion", init, submodule_search_locations=[str(converter_dir)])
        package = importlib.util.module_from_spec(spec)
        sys.modules["conversion"] = package
        spec.loader.exec_module(package)
        gpt_oss = importlib.import_module("conversion.gpt_oss")
        import gguf
    except Exception as e:  # noqa: BLE001 - any failure to import upstream is reported as one line
        raise InfraProblem(f"cannot import llama.cpp's converter from {converter_dir}: {type(e).__name__}: {e}") from None
    if not hasattr(gpt_oss, "GptOssModel"):
        raise InfraProblem(f"{converter_dir}/gpt_oss.py defines no GptOssModel")
    return gpt_oss.GptOssModel, gguf


def check_layer(src: Path, entries: dict[str, Any]) -> tuple[int, int, int]:
    """The checks of check_checkpoint_experts (kernels/layout/ggml_convert.cpp), so that bad input
    exits 2 with the tensor's name instead of failing inside the converter. Returns (E, H, I)."""
    def entry(canonical: str) -> tuple[str, list[int]]:
        e = entries[hugging_face_name(canonical, 0)]
        return e["dtype"], e["shape"]
    dt, blocks = entry("gate_up_blocks")
    if dt != "U8" or len(blocks) != 4 or blocks[3] != 16 or blocks[1] % 2:
        raise InputProblem(f"{src}: gate_up_blocks is {dt} {blocks}, expected U8 [E, 2I, H/32, 16]")
    experts, intermediate, hidden = blocks[0], blocks[1] // 2, blocks[2] * 32
    want = {
        "gate_up_scales": (("U8",), [experts, 2 * intermediate, hidden // 32], "[E, 2I, H/32]"),
        "gate_up_bias": (("F32", "BF16", "F16"), [experts, 2 * intermediate], "[E, 2I]"),
        "down_blocks": (("U8",), [experts, hidden, intermediate // 32, 16], "[E, H, I/32, 16]"),
        "down_scales": (("U8",), [experts, hidden, intermediate // 32], "[E, H, I/32]"),
        "down_bias": (("F32", "BF16", "F16"), [experts, hidden], "[E, H]"),
    }
    for name, (dtypes, shape, pattern) in want.items():
        dt, got = entry(name)
        if dt not in dtypes or got != shape or intermediate % 32:
            raise InputProblem(f"{src}: {name} is {dt} {got}, expected {'|'.join(dtypes)} {shape} {pattern} "
                               f"(E = {experts}, H = {hidden}, I = {intermediate} from gate_up_blocks)")
    return experts, hidden, intermediate


def run_converter(model_class, gguf, model_dir: Path, layer_shape: tuple[int, int, int]) -> dict[str, Any]:
    experts, hidden, intermediate = layer_shape
    hparams = {
        "architectures": ["GptOssForCausalLM"],
        "num_hidden_layers": 1,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_local_experts": experts,
        "num_experts_per_tok": min(4, experts),
        "quantization_config": {"quant_method": "mxfp4"},
    }
    try:
        model = model_class(model_dir, gguf.LlamaFileType.MOSTLY_BF16, model_dir / "unused.gguf", hparams=hparams)
        model.prepare_tensors()
    except Exception as e:  # noqa: BLE001
        raise InfraProblem(f"llama.cpp's converter failed: {type(e).__name__}: {e}") from None
    captured: dict[str, Any] = {}
    for shard in model.gguf_writer.tensors:
        for name, info in shard.items():
            data = info.tensor
            if isinstance(data, gguf.LazyBase):
                data = gguf.LazyNumpyTensor.to_eager(data)
            captured[name] = data
    return captured


def ggml_names(gguf) -> dict[str, str]:
    """GGUF tensor name of layer 0 -> GgmlExperts field name."""
    names = {}
    for key, ours in ((gguf.MODEL_TENSOR.FFN_GATE_EXP, "gate"), (gguf.MODEL_TENSOR.FFN_UP_EXP, "up"),
                      (gguf.MODEL_TENSOR.FFN_DOWN_EXP, "down"), (gguf.MODEL_TENSOR.FFN_GATE_UP_EXP, "gate_up")):
        base = gguf.TENSOR_NAMES[key].format(bid=0)
        names[base + ".weight"] = ours
        names[base + ".bias"] = ours + "_bias"
    return names


def convert(src: Path, out: Path, layer: int | None, llama_cpp: Path, converter_dir: Path) -> list[str]:
    read_safetensors_header(src)  # bad input is reported before the (slow) converter import
    model_class, gguf = import_converter(llama_cpp, converter_dir)
    logging.getLogger("hf-to-gguf").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="mxg-ggml-convert-") as tmp:
        model_dir = Path(tmp)
        entries = copy_layer_as_checkpoint(src, layer, model_dir / "model.safetensors")
        captured = run_converter(model_class, gguf, model_dir, check_layer(src, entries))
    names = ggml_names(gguf)
    unknown = sorted(n for n in captured if n not in names)
    if unknown:
        raise InfraProblem(f"converter wrote tensors mxguard does not map: {', '.join(unknown)}")
    order = ("gate", "up", "down", "gate_bias", "up_bias", "down_bias", "gate_up", "gate_up_bias")
    by_ours = {names[n]: captured[n] for n in captured}
    tensors = [(n, by_ours[n]) for n in order if n in by_ours]
    write_safetensors(out, tensors, {"mxguard.ggml.converter": str(converter_dir.resolve()),
                                     "mxguard.ggml.source": str(src)})
    return [f"{n} {list(a.shape)} {a.dtype}" for n, a in tensors]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert one GPT-OSS MoE layer's expert tensors with llama.cpp's own converter "
                    "(stack mode of the ggml kernel family).",
        epilog="Example: ci/tools/ggml_convert_layer.py --in layer.safetensors --out ggml.safetensors "
               "--converter-dir /tmp/patched/conversion\n"
               "Exit codes: 0 written, 2 bad input, 3 converter could not be imported or run.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in", dest="src", required=True, type=Path, help="safetensors file of one layer's experts")
    parser.add_argument("--out", required=True, type=Path, help="safetensors file to write (GgmlExperts names)")
    parser.add_argument("--layer", type=int, help="read model.layers.L.mlp.experts.* (Hugging Face names)")
    parser.add_argument("--llama-cpp", type=Path, help="llama.cpp checkout (default: $MXG_GGML_SOURCE or .deps/llama.cpp)")
    parser.add_argument("--converter-dir", type=Path, help="conversion package folder (default: <llama.cpp>/conversion)")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    llama_cpp = args.llama_cpp or default_llama_cpp()
    converter_dir = args.converter_dir or llama_cpp / "conversion"
    try:
        written = convert(args.src, args.out, args.layer, llama_cpp, converter_dir)
    except InputProblem as e:
        print(f"ggml_convert_layer: {e}", file=sys.stderr)
        return EXIT_INPUT
    except InfraProblem as e:
        print(f"ggml_convert_layer: {e}", file=sys.stderr)
        return EXIT_INFRA
    if not args.quiet:
        print(f"{args.out}: {'; '.join(written)} (converter {converter_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
