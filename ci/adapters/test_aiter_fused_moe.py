#!/usr/bin/env python3
# Tests of aiter_fused_moe.py that need neither torch nor a GPU: problem-file checks, --dry-run, exit codes.
"""Standard-library tests of the AITER adapter's problem-file validation, --dry-run and error exits.

The AITER call itself cannot run without an AMD GPU; these tests pin down everything before it: which
problem files are accepted, which field a rejection names, and the exit status mxguard will see.
Run: python3 -m unittest discover -s ci/adapters -p 'test_*.py'
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

ADAPTER = pathlib.Path(__file__).resolve().with_name("aiter_fused_moe.py")
_spec = importlib.util.spec_from_file_location("aiter_fused_moe", ADAPTER)
adapter = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = adapter  # dataclasses look their module up while the class is built
_spec.loader.exec_module(adapter)

# A small consistent problem: T tokens, E experts, top-k, padded sizes H_p and I_p.
T, E, K, HP, IP = 3, 2, 2, 64, 32
ITEM = {"BF16": 2, "U8": 1, "F32": 4, "I32": 4}


def problem_tensors(shuffled: bool) -> dict[str, tuple[str, list[int]]]:
    scale_cols13 = 8 if shuffled else HP // 32  # shuffled scales are padded to whole 8-column blocks
    scale_cols2 = 8 if shuffled else IP // 32
    return {
        "hidden": ("BF16", [T, HP]),
        "w13": ("U8", [E, 2 * IP, HP // 2]),
        "w13_scale": ("U8", [E * 2 * IP, scale_cols13]),
        "w2": ("U8", [E, HP, IP // 2]),
        "w2_scale": ("U8", [E * HP, scale_cols2]),
        "w13_bias": ("F32", [E, 2 * IP]),
        "w2_bias": ("F32", [E, HP]),
        "topk_ids": ("I32", [T, K]),
        "topk_weights": ("F32", [T, K]),
    }


def problem_metadata(**overrides: str) -> dict[str, str]:
    meta = {"mxguard.protocol": "1", "gate_mode": "interleave", "is_shuffled": "true", "hidden_pad": "16",
            "intermediate_pad": "8", "swiglu_limit": "7", "alpha": "1.702", "tokens": str(T), "experts": str(E),
            "topk": str(K), "hidden_size": str(HP - 16), "hidden_padded": str(HP), "intermediate_padded": str(IP),
            "intermediate_size": str(IP - 8)}
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not None}


BF16_ONE = b"\x80\x3f"  # 1.0 in bfloat16, little endian


def write_safetensors(path: str, tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str]) -> None:
    """An independent minimal safetensors writer: 8-byte length, JSON header, data. Every tensor is
    zeros except `hidden`, which is all 1.0 so an output derived from it is recognisable."""
    header: dict = {"__metadata__": metadata}
    data = bytearray()
    for name, (dtype, shape) in tensors.items():
        size = ITEM[dtype]
        for d in shape:
            size *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += BF16_ONE * (size // 2) if name == "hidden" and dtype == "BF16" else bytes(size)
    blob = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + bytes(data))


class AdapterTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = os.path.join(self.dir.name, "problem.safetensors")
        self.out = os.path.join(self.dir.name, "y.safetensors")

    def write(self, shuffled: bool = True, tensors: dict | None = None, **meta: str) -> None:
        write_safetensors(self.path, tensors if tensors is not None else problem_tensors(shuffled),
                          problem_metadata(is_shuffled="true" if shuffled else "false", **meta))

    def run_main(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = adapter.main(list(argv))
            except SystemExit as e:  # argparse's own exits
                code = e.code
        return code, out.getvalue(), err.getvalue()

    def test_dry_run_maps_contract_fields_to_aiter_arguments(self) -> None:
        self.write(shuffled=True)
        code, out, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 0, err)
        self.assertIn("gate_mode     = 'interleave'", out)
        self.assertIn("w13.is_shuffled = w2.is_shuffled = True", out)
        self.assertIn("hidden_pad    = 16,  intermediate_pad = 8", out)
        self.assertIn(f"y = result[:, :{HP - 16}] -> bf16 [{T}, {HP - 16}]", out)

    def test_dry_run_of_unshuffled_separated_problem_sets_no_flag(self) -> None:
        self.write(shuffled=False, gate_mode="separated")
        code, out, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 0, err)
        self.assertIn("no is_shuffled attribute", out)
        self.assertIn("gate_mode     = 'separated'", out)

    def test_other_protocol_version_is_refused(self) -> None:
        self.write(**{"mxguard.protocol": "2"})
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("'mxguard.protocol'", err)
        self.assertIn("'2'", err)

    def test_missing_contract_key_is_named(self) -> None:
        self.write(intermediate_pad=None)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn(self.path, err)
        self.assertIn("'intermediate_pad'", err)

    def test_alpha_other_than_aiters_is_refused(self) -> None:
        self.write(alpha="1.5")
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("'alpha'", err)
        self.assertIn("1.702", err)

    def test_unknown_gate_mode_is_refused(self) -> None:
        self.write(gate_mode="gugu")
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("'gugu'", err)

    def test_w2_shape_disagreeing_with_w13_names_tensor_and_dim(self) -> None:
        tensors = problem_tensors(True)
        tensors["w2"] = ("U8", [E, HP, IP // 2 + 1])
        self.write(tensors=tensors)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("w2: dim 2 is 17, expected 16", err)

    def test_shuffled_scales_need_whole_blocks(self) -> None:
        tensors = problem_tensors(True)
        tensors["w2_scale"] = ("U8", [E * HP, 1])
        self.write(tensors=tensors)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("w2_scale", err)
        self.assertIn("cols % 8 == 0", err)

    def test_wrong_dtype_is_named(self) -> None:
        tensors = problem_tensors(True)
        tensors["w13_bias"] = ("BF16", [E, 2 * IP])
        self.write(tensors=tensors)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("w13_bias: dtype is BF16, expected F32", err)

    def test_pad_outside_the_padded_size_is_refused(self) -> None:
        self.write(hidden_pad=str(HP), hidden_size=None)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("'hidden_pad'", err)

    def test_derived_size_disagreeing_with_tensors_is_refused(self) -> None:
        self.write(tokens=str(T + 1))
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("'tokens'", err)

    def test_truncated_file_is_an_input_error(self) -> None:
        self.write()
        with open(self.path, "r+b") as f:
            f.truncate(40)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("header", err)

    def test_data_shorter_than_declared_is_an_input_error(self) -> None:
        self.write()
        size = os.path.getsize(self.path)
        with open(self.path, "r+b") as f:
            f.truncate(size - 1)
        code, _, err = self.run_main("--dry-run", self.path)
        self.assertEqual(code, 2)
        self.assertIn("data_offsets", err)

    def test_missing_torch_is_an_environment_error_naming_it(self) -> None:
        self.write()
        with mock.patch.dict(sys.modules, {"torch": None}):  # None in sys.modules makes the import fail
            code, _, err = self.run_main(self.path, self.out)
        self.assertEqual(code, 3)
        self.assertIn("cannot import torch", err)
        self.assertFalse(os.path.exists(self.out))

    def test_missing_aiter_is_an_environment_error_naming_it(self) -> None:
        self.write()
        fakes = {"torch": mock.MagicMock(), "safetensors": mock.MagicMock(), "safetensors.torch": mock.MagicMock(),
                 "aiter": None}
        with mock.patch.dict(sys.modules, fakes):
            code, _, err = self.run_main(self.path, self.out)
        self.assertEqual(code, 3)
        self.assertIn("cannot import aiter", err)

    def test_torch_without_rocm_is_refused(self) -> None:
        stack = mock.MagicMock()
        stack.torch.__version__ = "2.8.0+cu128"
        stack.torch.version.hip = None
        with self.assertRaises(adapter.AdapterError) as raised:
            adapter.check_device(stack, 0, any_arch=False)
        self.assertEqual(raised.exception.exit_code, 3)
        self.assertIn("not a ROCm build", str(raised.exception))

    def test_gpu_other_than_gfx95x_is_refused_unless_any_arch(self) -> None:
        stack = mock.MagicMock()
        stack.torch.version.hip = "6.4"
        stack.torch.cuda.is_available.return_value = True
        stack.torch.cuda.device_count.return_value = 1
        stack.torch.cuda.get_device_properties.return_value.gcnArchName = "gfx942:sramecc+:xnack-"
        with self.assertRaises(adapter.AdapterError) as raised:
            adapter.check_device(stack, 0, any_arch=False)
        self.assertIn("gfx942", str(raised.exception))
        self.assertEqual(adapter.check_device(stack, 0, any_arch=True), "gfx942")

    def test_out_is_required_without_dry_run(self) -> None:
        self.write()
        code, _, err = self.run_main(self.path)
        self.assertEqual(code, 2)
        self.assertIn("OUT is required", err)

    def test_help_runs_as_a_script(self) -> None:
        r = subprocess.run([sys.executable, str(ADAPTER), "--help"], capture_output=True, text=True, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("EXTERNAL_PROTOCOL.md", r.stdout)


def _torch_with_gpu() -> bool:
    try:
        import safetensors.torch  # noqa: F401
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@unittest.skipUnless(_torch_with_gpu(), "needs torch, safetensors and a GPU")
class TorchPlumbingTest(unittest.TestCase):
    """The adapter's real torch/safetensors path around a stand-in for aiter.fused_moe that records its
    arguments and returns 2 * hidden_states: checks what reaches AITER and what is written as y. On a
    non-ROCm GPU the device check is bypassed; AITER itself is not exercised."""

    def setUp(self) -> None:
        import torch

        self.torch = torch
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = os.path.join(self.dir.name, "problem.safetensors")
        self.out = os.path.join(self.dir.name, "y.safetensors")
        self.calls: list[dict] = []

        def fake_fused_moe(hidden_states, w1, w2, topk_weight, topk_ids, expert_mask=None, activation=None,
                           quant_type=None, doweight_stage1=False, w1_scale=None, w2_scale=None, a1_scale=None,
                           a2_scale=None, hidden_pad=0, intermediate_pad=0, bias1=None, bias2=None,
                           swiglu_limit=None, gate_mode="separated"):
            self.calls.append(dict(locals()))
            return hidden_states * 2

        fake_aiter = mock.MagicMock()
        fake_aiter.dtypes.fp4x2 = getattr(torch, "float4_e2m1fn_x2", torch.uint8)
        fake_aiter.__version__ = "stand-in"
        fake_fm = mock.MagicMock()
        fake_fm.fused_moe = fake_fused_moe
        fake_fm.GateMode = lambda value: mock.MagicMock(value=value)
        self.modules = {"aiter": fake_aiter, "aiter.fused_moe": fake_fm, "aiter.ops.flydsl.moe_common": None}

    def run_adapter(self, shuffled: bool, gate_mode: str) -> tuple[int, str]:
        write_safetensors(self.path, problem_tensors(shuffled),
                          problem_metadata(is_shuffled="true" if shuffled else "false", gate_mode=gate_mode))
        err = io.StringIO()
        with mock.patch.dict(sys.modules, self.modules), \
                mock.patch.object(adapter, "check_device", return_value="stand-in"), \
                contextlib.redirect_stderr(err):
            code = adapter.main([self.path, self.out])
        return code, err.getvalue()

    def test_shuffled_interleaved_problem_reaches_aiter_as_sglang_passes_it(self) -> None:
        torch = self.torch
        code, err = self.run_adapter(shuffled=True, gate_mode="interleave")
        self.assertEqual(code, 0, err)
        (call,) = self.calls
        self.assertTrue(getattr(call["w1"], "is_shuffled", False))
        self.assertTrue(getattr(call["w2"], "is_shuffled", False))
        self.assertEqual(call["w1"].dtype, getattr(torch, "float4_e2m1fn_x2", torch.uint8))
        self.assertEqual(tuple(call["w1"].shape), (E, 2 * IP, HP // 2))
        self.assertTrue(call["w1"].is_cuda)
        self.assertEqual(call["w1_scale"].dtype, torch.uint8)
        self.assertEqual(call["topk_ids"].dtype, torch.int32)
        self.assertEqual(call["topk_weight"].dtype, torch.float32)
        self.assertEqual(call["bias1"].dtype, torch.float32)
        self.assertEqual((call["hidden_pad"], call["intermediate_pad"]), (16, 8))
        self.assertEqual(call["gate_mode"], "interleave")
        self.assertEqual(call["swiglu_limit"], 7.0)
        self.assertIsNone(call["expert_mask"])
        self.assertFalse(call["doweight_stage1"])

        import safetensors.torch

        y = safetensors.torch.load_file(self.out)["y"]
        self.assertEqual(y.dtype, torch.bfloat16)
        self.assertEqual(tuple(y.shape), (T, HP - 16))
        self.assertTrue(bool((y == 2).all()))

    def test_worker_mode_sets_up_once_and_runs_each_problem(self) -> None:
        # Protocol v2: torch, AITER and the device are set up once; each request is one fused_moe call.
        write_safetensors(self.path, problem_tensors(True), problem_metadata(is_shuffled="true", gate_mode="interleave"))
        with mock.patch.dict(sys.modules, self.modules), \
                mock.patch.object(adapter, "check_device", return_value="stand-in") as checked:
            worker = adapter.make_adapter(0, any_arch=False)
            ready = worker.prepare()
            for i in range(3):
                worker.solve(self.path, self.out, f"id-{i}")
        self.assertEqual(checked.call_count, 1)
        self.assertEqual(len(self.calls), 3)
        self.assertIn("torch", ready.versions)
        import safetensors.torch

        y = safetensors.torch.load_file(self.out)["y"]
        self.assertEqual(tuple(y.shape), (T, HP - 16))
        self.assertTrue(bool((y == 2).all()))

    def test_unshuffled_problem_carries_no_flag(self) -> None:
        code, err = self.run_adapter(shuffled=False, gate_mode="separated")
        self.assertEqual(code, 0, err)
        (call,) = self.calls
        self.assertFalse(getattr(call["w1"], "is_shuffled", False))
        self.assertFalse(getattr(call["w2"], "is_shuffled", False))
        self.assertEqual(call["gate_mode"], "separated")


if __name__ == "__main__":
    unittest.main()
