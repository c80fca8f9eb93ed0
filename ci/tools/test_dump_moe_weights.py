#!/usr/bin/env python3
"""Standard-library tests of dump_moe_weights.py with a fake ``torch`` module and fake tensors.

The written safetensors file is parsed back here independently of the tool's writer. The fixture
in harness/diagnose/dump/tests/data/ is this file's sample dump; the C++ test python_dump_test.cpp
reads the same bytes, so the two sides of the format are checked against one file. After an
intended change of the tool's output, regenerate it with
``python3 ci/tools/test_dump_moe_weights.py --regenerate``.
"""

from __future__ import annotations

import ctypes
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import types
import unittest
from contextlib import redirect_stdout
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURE_DIR = os.path.join(REPO, "harness", "diagnose", "dump", "tests", "data")
FIXTURE = os.path.join(FIXTURE_DIR, "sglang_layer3.safetensors")
sys.path.insert(0, HERE)

import dump_moe_weights as tool  # noqa: E402


# ---- fakes ------------------------------------------------------------------------------------------

class FakeDType:
    def __init__(self, name: str, itemsize: int):
        self.name, self.itemsize = name, itemsize

    def __str__(self) -> str:
        return "torch." + self.name

    __repr__ = __str__


DTYPES = {name: FakeDType(name, size) for name, size in [
    ("uint8", 1), ("int8", 1), ("bool", 1), ("int16", 2), ("int32", 4), ("int64", 8), ("float16", 2),
    ("bfloat16", 2), ("float32", 4), ("float64", 8), ("uint16", 2), ("float4_e2m1fn_x2", 1),
    ("float8_e4m3fn", 1), ("float8_e8m0fnu", 1)]}


def fake_torch(world: tuple[int, int] | None = None) -> types.ModuleType:
    torch = types.ModuleType("torch")
    for name, dtype in DTYPES.items():
        setattr(torch, name, dtype)
    dist = types.ModuleType("torch.distributed")
    dist.is_available = lambda: True
    dist.is_initialized = lambda: world is not None
    dist.get_world_size = lambda: world[0]
    dist.get_rank = lambda: world[1]
    torch.distributed = dist
    return torch


class FakeTensor:
    """dtype / shape / contiguous() / cpu() / view(uint8) / data_ptr(), host bytes in a ctypes buffer.
    Internals live in slots so that vars() shows only attributes set on it, as with torch Parameters."""
    __slots__ = ("_dtype", "_shape", "_buf", "_calls", "__dict__")

    def __init__(self, dtype: str, shape, data: bytes):
        self._dtype, self._shape = DTYPES[dtype], tuple(shape)
        assert len(data) == math.prod(self._shape) * self._dtype.itemsize
        self._buf = (ctypes.c_ubyte * max(len(data), 1)).from_buffer_copy(data or b"\0")
        self._calls = []

    dtype = property(lambda self: self._dtype)
    shape = property(lambda self: self._shape)

    def detach(self):
        self._calls.append("detach")
        return self

    def contiguous(self):
        self._calls.append("contiguous")
        return self

    def cpu(self):
        self._calls.append("cpu")
        return self

    def view(self, dtype):
        assert dtype is DTYPES["uint8"], dtype
        v = FakeTensor.__new__(FakeTensor)
        v._dtype, v._buf, v._calls = dtype, self._buf, self._calls
        v._shape = self._shape[:-1] + (self._shape[-1] * self._dtype.itemsize,)
        return v

    def numel(self) -> int:
        return math.prod(self._shape)

    def element_size(self) -> int:
        return self._dtype.itemsize

    def data_ptr(self) -> int:
        return ctypes.addressof(self._buf)


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) % 256 for i in range(n))


def weight_loader(*args):  # stands for the loader callback serving stacks attach to parameters
    return args


class FusedMoE:
    """An SGLang-like expert module (the class's module path is what the tool reads the framework from)."""


FusedMoE.__module__ = "sglang.srt.layers.moe.fused_moe_triton.layer"


class VllmFusedMoE:
    pass


VllmFusedMoE.__module__ = "vllm.model_executor.layers.fused_moe.layer"


def sglang_module(seed: int = 0) -> FusedMoE:
    """GPT-OSS-like shapes scaled down: E=2, 2*I_p=64, H_p=32 (bytes 16), I_p=32."""
    m = FusedMoE()
    w13 = FakeTensor("float4_e2m1fn_x2", (2, 64, 16), pattern(2 * 64 * 16, 1 + seed))
    w13.is_shuffled = True
    w13.weight_loader = weight_loader
    w13.quant_block = 32
    m.w13_weight = w13
    m.w13_weight_scale = FakeTensor("uint8", (128, 1), pattern(128, 2 + seed))
    m.w13_weight_scale.is_shuffled = False
    m.w13_weight_bias = FakeTensor("float32", (2, 64), pattern(2 * 64 * 4, 3 + seed))
    m.w2_weight = FakeTensor("uint8", (2, 32, 16), pattern(2 * 32 * 16, 4 + seed))
    m.w2_weight.is_shuffled = True
    m.w2_weight_scale = FakeTensor("float8_e8m0fnu", (64, 1), pattern(64, 5 + seed))
    m.w2_weight_bias = FakeTensor("bfloat16", (2, 32), pattern(2 * 32 * 2, 6 + seed))
    m.moe_tp_size, m.moe_tp_rank, m.moe_ep_size, m.moe_ep_rank = 8, 2, 1, 0
    m.tp_size = 16  # attention tp: the expert split is moe_tp_size
    m.hidden_size = 32
    m.quant_method = types.SimpleNamespace(with_bias=True, use_triton_kernels=False)
    return m


class FakeModel:
    def __init__(self, modules: dict):
        self.modules = modules

    def named_modules(self):
        yield "", self
        yield from self.modules.items()


def sglang_model() -> FakeModel:
    return FakeModel({
        "model": object(),
        "model.layers.0.mlp.experts": sglang_module(seed=10),
        "model.layers.3.mlp": object(),
        "model.layers.3.mlp.experts": sglang_module(),
        "model.layers.13.mlp.experts": sglang_module(seed=20),
    })


ENV = {"SGLANG_USE_AITER_MOE_GU_ITLV": "1", "SGLANG_USE_AITER": "1", "PATH": "/usr/bin", "HOME": "/root",
       "VLLM_ROCM_USE_AITER_MOE": "0", "SGLANG_LOG_LEVEL": "info"}


def write_sample(path: str) -> str:
    """The fixture: layer 3 of the fake SGLang model, a fixed environment, no torch.distributed."""
    with mock.patch.dict(sys.modules, {"torch": fake_torch()}):
        return tool.dump_layer(sglang_model(), layer=3, path=path, environ=ENV)


# ---- an independent safetensors parser ---------------------------------------------------------------------

SIZES = {"U8": 1, "I8": 1, "I16": 2, "F16": 2, "BF16": 2, "I32": 4, "F32": 4, "I64": 8, "F64": 8}


def parse_safetensors(path: str) -> tuple[dict, dict]:
    """{name: (dtype, shape, bytes)} and the metadata, with every structural rule checked."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    assert n % 8 == 0, "header padded to 8 bytes"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    out, ranges = {}, []
    for name, e in header.items():
        begin, end = e["data_offsets"]
        assert 0 <= begin <= end <= len(data), name
        assert end - begin == math.prod(e["shape"]) * SIZES[e["dtype"]], name
        assert (8 + n + begin) % SIZES[e["dtype"]] == 0, f"{name} not aligned to its dtype"
        out[name] = (e["dtype"], e["shape"], data[begin:end])
        ranges.append((begin, end))
    ranges.sort()
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:])), "overlapping tensors"
    assert sum(e - b for b, e in ranges) == len(data), "data section holds exactly the tensors"
    return out, metadata


# ---- tests -----------------------------------------------------------------------------------------------------

class DumpLayerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "layer3.safetensors")

    def tearDown(self):
        self.dir.cleanup()

    def dump(self, model, world=None, **kwargs):
        kwargs.setdefault("environ", ENV)
        with mock.patch.dict(sys.modules, {"torch": fake_torch(world)}):
            return tool.dump_layer(model, path=kwargs.pop("path", self.path), **kwargs)

    def sidecar(self, path=None):
        with open((path or self.path) + ".json", encoding="utf-8") as f:
            return json.load(f)

    def test_raw_bytes_of_every_parameter(self):
        self.dump(sglang_model(), layer=3)
        tensors, metadata = parse_safetensors(self.path)
        p = "model.layers.3.mlp.experts."
        self.assertEqual(metadata, {"format": "pt", "mxguard.dump": "mxguard-moe-dump"})
        self.assertEqual(tensors, {
            p + "w13_weight": ("U8", [2, 64, 16], pattern(2048, 1)),  # fp4 pairs: a U8 view, same shape
            p + "w13_weight_scale": ("U8", [128, 1], pattern(128, 2)),
            p + "w13_weight_bias": ("F32", [2, 64], pattern(512, 3)),
            p + "w2_weight": ("U8", [2, 32, 16], pattern(1024, 4)),
            p + "w2_weight_scale": ("U8", [64, 1], pattern(64, 5)),  # e8m0 bytes
            p + "w2_weight_bias": ("BF16", [2, 32], pattern(128, 6)),
        })
        self.assertEqual(sorted(os.listdir(self.dir.name)), ["layer3.safetensors", "layer3.safetensors.json"])

    def test_sidecar_fields(self):
        self.dump(sglang_model(), layer=3)
        s = self.sidecar()
        self.assertEqual(s["format"], "mxguard-moe-dump")
        self.assertEqual(s["version"], 1)
        self.assertEqual(s["framework"], "sglang")
        self.assertEqual(s["layer"], 3)
        self.assertEqual(s["module"], "model.layers.3.mlp.experts")
        self.assertEqual(s["module_class"], "FusedMoE")
        self.assertEqual(s["gate_mode"], "interleave")
        self.assertEqual(s["gate_mode_source"], "env SGLANG_USE_AITER_MOE_GU_ITLV=1")
        self.assertEqual((s["tp_size"], s["tp_rank"], s["ep_size"], s["ep_rank"]), (8, 2, 1, 0))
        self.assertEqual(s["environment"], {"SGLANG_USE_AITER": "1", "SGLANG_USE_AITER_MOE_GU_ITLV": "1",
                                            "VLLM_ROCM_USE_AITER_MOE": "0"})
        self.assertEqual(s["module_attributes"], {
            "hidden_size": 32, "moe_ep_rank": 0, "moe_ep_size": 1, "moe_tp_rank": 2, "moe_tp_size": 8, "tp_size": 16,
            "quant_method.use_triton_kernels": False, "quant_method.with_bias": True})
        t = s["tensors"]["model.layers.3.mlp.experts.w13_weight"]
        self.assertEqual(t["parameter"], "w13_weight")
        self.assertEqual(t["dtype_in_process"], "torch.float4_e2m1fn_x2")
        self.assertEqual(t["shape_in_process"], [2, 64, 16])
        self.assertEqual((t["dtype_saved"], t["shape_saved"]), ("U8", [2, 64, 16]))
        self.assertIs(t["is_shuffled"], True)
        self.assertEqual(t["attributes"], {"quant_block": 32, "weight_loader": "<function weight_loader>"})
        self.assertIs(s["tensors"]["model.layers.3.mlp.experts.w13_weight_scale"]["is_shuffled"], False)
        self.assertIsNone(s["tensors"]["model.layers.3.mlp.experts.w13_weight_bias"]["is_shuffled"])
        self.assertEqual(list(s["tensors"]), [f"model.layers.3.mlp.experts.{p}" for p in (
            "w13_weight", "w13_weight_scale", "w13_weight_bias", "w2_weight", "w2_weight_scale", "w2_weight_bias")])

    def test_wider_unnamed_dtypes_are_byte_views(self):
        m = FusedMoE()
        m.w2_weight = FakeTensor("uint16", (3, 2), pattern(12, 9))
        m.w2_bias = FakeTensor("float16", (3,), pattern(6, 8))  # vLLM's bias spelling
        self.dump(m, framework="vllm")
        tensors, _ = parse_safetensors(self.path)
        self.assertEqual(tensors["w2_weight"], ("U8", [3, 4], pattern(12, 9)))
        self.assertEqual(tensors["w2_bias"], ("F16", [3], pattern(6, 8)))
        s = self.sidecar()
        self.assertEqual(s["module"], "")
        self.assertEqual(s["tensors"]["w2_weight"]["shape_in_process"], [3, 2])
        self.assertEqual(s["tensors"]["w2_weight"]["dtype_in_process"], "torch.uint16")

    def test_bytes_taken_on_the_host_contiguously(self):
        t = FakeTensor("bfloat16", (2, 2), pattern(8, 1))
        dtype, shape, data, owner = tool.tensor_bytes(t)
        self.assertEqual((dtype, shape, bytes(data)), ("BF16", [2, 2], pattern(8, 1)))
        self.assertIn("cpu", t._calls)
        self.assertIn("contiguous", t._calls)
        empty = FakeTensor("float32", (0, 4), b"")
        self.assertEqual(tool.tensor_bytes(empty)[:3], ("F32", [0, 4], memoryview(b"")))

    def test_layer_found_by_path_component(self):
        self.dump(sglang_model(), layer=13)
        s = self.sidecar()
        self.assertEqual(s["module"], "model.layers.13.mlp.experts")
        tensors, _ = parse_safetensors(self.path)
        self.assertEqual(tensors["model.layers.13.mlp.experts.w2_weight"][2], pattern(1024, 24))

    def test_missing_layer_lists_the_expert_modules(self):
        with self.assertRaisesRegex(tool.DumpError, r"layer 5.*model\.layers\.0\.mlp\.experts"):
            self.dump(sglang_model(), layer=5)
        with self.assertRaisesRegex(tool.DumpError, "pass layer=N"):
            self.dump(sglang_model())
        self.assertEqual(os.listdir(self.dir.name), [])

    def test_gate_mode_sources(self):
        env = dict(ENV, SGLANG_USE_AITER_MOE_GU_ITLV="0")
        self.dump(sglang_model(), layer=3, environ=env)
        self.assertEqual(self.sidecar()["gate_mode"], "separated")
        env.pop("SGLANG_USE_AITER_MOE_GU_ITLV")
        self.dump(sglang_model(), layer=3, environ=env)
        self.assertEqual((self.sidecar()["gate_mode"], self.sidecar()["gate_mode_source"]),
                         ("separated", "SGLang default (SGLANG_USE_AITER_MOE_GU_ITLV unset)"))
        m = sglang_module()
        m.quant_method.gate_mode = "GateMode.SEPARATED"  # an explicit attribute beats the env switch
        self.dump(m, environ=ENV)
        self.assertEqual((self.sidecar()["gate_mode"], self.sidecar()["gate_mode_source"]),
                         ("separated", "module attribute quant_method.gate_mode=GateMode.SEPARATED"))
        v = VllmFusedMoE()
        v.w13_weight = FakeTensor("uint8", (1, 32, 16), pattern(512, 0))
        self.dump(v, environ=ENV)
        self.assertEqual(self.sidecar()["framework"], "vllm")
        self.assertIsNone(self.sidecar()["gate_mode"])

    def parallel(self):
        s = self.sidecar()
        return s["tp_size"], s["tp_rank"], s["ep_size"], s["ep_rank"]

    def test_parallel_rebuilt_from_the_experts_split(self):
        m = sglang_module()
        m.moe_tp_size, m.moe_tp_rank, m.moe_ep_size, m.moe_ep_rank = 2, 1, 4, 3
        self.dump(m, world=(64, 5))  # the module's split wins over the world size
        self.assertEqual(self.parallel(), (8, 7, 4, 3))
        v = VllmFusedMoE()
        v.w13_weight = FakeTensor("uint8", (1, 32, 16), pattern(512, 0))
        v.moe_parallel_config = types.SimpleNamespace(tp_size=1, tp_rank=0, ep_size=8, ep_rank=5)
        self.dump(v)
        self.assertEqual(self.parallel(), (8, 5, 8, 5))

    def test_parallel_from_the_framework_group(self):
        group = types.ModuleType("sglang.srt.distributed")
        group.get_tensor_model_parallel_world_size = lambda: 16
        group.get_tensor_model_parallel_rank = lambda: 9
        fakes = {"sglang": types.ModuleType("sglang"), "sglang.srt": types.ModuleType("sglang.srt"),
                 "sglang.srt.distributed": group}
        with mock.patch.dict(sys.modules, fakes):
            self.dump(sglang_model(), layer=3, world=(2, 1))
        self.assertEqual(self.parallel(), (16, 9, 1, 0))

    def test_parallel_from_torch_distributed_and_overrides(self):
        m = VllmFusedMoE()
        m.w13_weight = FakeTensor("uint8", (1, 32, 16), pattern(512, 0))
        self.dump(m, world=(4, 1))
        self.assertEqual(self.parallel(), (4, 1, None, None))
        self.dump(m, world=None)
        self.assertEqual(self.parallel(), (None, None, None, None))
        self.dump(m, tp_size=2, tp_rank=1, ep_size=4, ep_rank=3)
        self.assertEqual(self.parallel(), (2, 1, 4, 3))
        with self.assertRaisesRegex(tool.DumpError, r"tp_rank = 2 must be in \[0, tp_size\) with tp_size = 2"):
            self.dump(m, tp_size=2, tp_rank=2)
        with self.assertRaises(TypeError):
            self.dump(m, tp=2)

    def test_path_placeholders(self):
        out = self.dump(sglang_model(), layer=3, path=os.path.join(self.dir.name, "l{layer}-tp{tp_rank}of{tp_size}.st"))
        self.assertEqual(os.path.basename(out), "l3-tp2of8.st")
        self.assertTrue(os.path.exists(out + ".json"))

    def test_cli_help_and_describe(self):
        self.dump(sglang_model(), layer=3)
        script = os.path.join(HERE, "dump_moe_weights.py")
        help_text = subprocess.run([sys.executable, script, "--help"], check=True, capture_output=True, text=True)
        self.assertIn("dump_layer(model, layer=3", help_text.stdout)
        out = subprocess.run([sys.executable, script, "--describe", self.path], check=True, capture_output=True,
                             text=True).stdout
        self.assertIn("model.layers.3.mlp.experts.w13_weight: U8 [2, 64, 16]", out)
        self.assertIn("torch.float4_e2m1fn_x2 [2, 64, 16] is_shuffled=True", out)
        bad = subprocess.run([sys.executable, script, "--describe", os.path.join(self.dir.name, "none")],
                             capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("cannot read", bad.stderr)

    def test_torch_is_imported_lazily(self):
        code = f"import sys; sys.path.insert(0, {HERE!r}); import dump_moe_weights; print('torch' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), "False")

    def test_fixture_is_what_the_tool_writes(self):
        """The C++ reader's test reads this fixture: it must be the tool's current output."""
        path = write_sample(self.path)
        for suffix in ("", ".json"):
            with open(path + suffix, "rb") as a, open(FIXTURE + suffix, "rb") as b:
                self.assertEqual(a.read(), b.read(),
                                 f"{FIXTURE + suffix} is stale: run python3 {__file__} --regenerate")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        os.makedirs(FIXTURE_DIR, exist_ok=True)
        print(write_sample(FIXTURE))
    else:
        unittest.main()
