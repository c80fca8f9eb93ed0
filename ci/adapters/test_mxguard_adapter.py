#!/usr/bin/env python3
# Tests of mxguard_adapter.py (the adapter helper) and of host_adapter.py built on it: safetensors, both protocol versions.
"""Standard-library tests of the adapter helper.

The safetensors reader and writer are checked against a writer written here independently (struct +
json), the v2 loop by driving a small adapter script as mxguard would (hello, requests, a malformed
line, a refusal, a crash of the kernel), including that nothing an adapter prints reaches the protocol.
host_adapter.py is run against mxguard's own `kernel run` when $MXGUARD names the binary (CTest sets it).
Run: python3 -m unittest discover -s ci/adapters -p 'test_*.py'
"""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import mxguard_adapter as mx  # noqa: E402

T, E, K, HP, IP = 3, 2, 2, 64, 32
ITEM = {"BF16": 2, "U8": 1, "F32": 4, "I32": 4}


def independent_safetensors(path: str, tensors: dict[str, tuple[str, list[int], bytes]], metadata: dict) -> None:
    """8-byte little-endian header length, JSON header, data in order: the format, written by hand."""
    header: dict = {"__metadata__": metadata}
    data = b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    blob = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + data)


def write_problem(path: str, **meta_overrides: str) -> None:
    """A consistent problem file: all zeros but `hidden`, which counts 0, 1, 2, ... in its bf16 bit patterns."""
    shapes = {"hidden": ("BF16", [T, HP]), "w13": ("U8", [E, 2 * IP, HP // 2]), "w13_scale": ("U8", [E * 2 * IP, HP // 32]),
              "w2": ("U8", [E, HP, IP // 2]), "w2_scale": ("U8", [E * HP, IP // 32]), "w13_bias": ("F32", [E, 2 * IP]),
              "w2_bias": ("F32", [E, HP]), "topk_ids": ("I32", [T, K]), "topk_weights": ("F32", [T, K])}
    tensors = {}
    for name, (dtype, shape) in shapes.items():
        n = ITEM[dtype]
        for d in shape:
            n *= d
        payload = b"".join(struct.pack("<H", i) for i in range(n // 2)) if name == "hidden" else bytes(n)
        tensors[name] = (dtype, shape, payload)
    meta = {"mxguard.protocol": "1", "gate_mode": "separated", "is_shuffled": "false", "hidden_pad": "16",
            "intermediate_pad": "0", "swiglu_limit": "7", "alpha": "1.702"}
    meta.update(meta_overrides)
    independent_safetensors(path, tensors, meta)


# A complete adapter on the helper: y = the first H columns of hidden; prints on stdout (which must not
# reach the protocol); refuses ids starting with "refuse", raises on ids starting with "boom".
ECHO_ADAPTER = textwrap.dedent('''
    import sys
    sys.path.insert(0, {helper_dir!r})
    import mxguard_adapter as mx

    def setup():
        print("loading kernels...")  # a library printing on stdout
        return mx.Ready(device="test-device", versions={{"lib": "1.2"}})

    def run(problem):
        print("running", problem.id)
        if problem.id.startswith("refuse"):
            raise mx.AdapterError("no kernel for this shape", mx.EXIT_INPUT)
        if problem.id.startswith("boom"):
            raise RuntimeError("device lost")
        c = problem.contract
        hidden = problem.tensor("hidden")
        row = c.hidden_padded * 2
        data = b"".join(bytes(hidden.data[t * row:t * row + c.hidden_size * 2]) for t in range(c.tokens))
        return mx.Tensor("BF16", (c.tokens, c.hidden_size), data)

    sys.exit(mx.main(mx.Adapter(run, kernel="echo", kernel_version="0.1", setup=setup, name="echo.py")))
''')


class SafetensorsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def test_reads_an_independently_written_file(self) -> None:
        path = os.path.join(self.dir.name, "a.safetensors")
        independent_safetensors(path, {"x": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                       "b": ("U8", [3], b"\x01\x02\x03")}, {"k": "v"})
        f = mx.SafetensorsFile(path)
        self.assertEqual(f.metadata, {"k": "v"})
        x = f.tensor("x")
        self.assertEqual((x.dtype, x.shape), ("F32", (2, 2)))
        self.assertEqual(struct.unpack("<4f", bytes(x.data)), (1.0, 2.0, 3.0, 4.0))
        self.assertEqual(bytes(f.tensor("b").data), b"\x01\x02\x03")
        f.close()

    def test_written_file_has_the_format_byte_for_byte(self) -> None:
        path = os.path.join(self.dir.name, "y.safetensors")
        payload = struct.pack("<6H", *range(6))
        mx.write_safetensors(path, {"y": mx.Tensor("BF16", (2, 3), payload)}, {"adapter": "t"})
        raw = pathlib.Path(path).read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0)  # the data starts aligned
        header = json.loads(raw[8:8 + n])
        self.assertEqual(header["y"], {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]})
        self.assertEqual(header["__metadata__"], {"adapter": "t"})
        self.assertEqual(raw[8 + n:], payload)
        self.assertFalse(os.path.exists(path + ".partial"))

    def test_wrong_byte_count_is_refused_naming_the_tensor(self) -> None:
        with self.assertRaises(mx.AdapterError) as raised:
            mx.write_safetensors(os.path.join(self.dir.name, "y.safetensors"), {"y": mx.Tensor("F32", (2,), b"123")})
        self.assertIn("y: 3 bytes", str(raised.exception))

    def test_duplicate_header_keys_are_refused(self) -> None:
        path = os.path.join(self.dir.name, "dup.safetensors")
        blob = b'{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
        pathlib.Path(path).write_bytes(struct.pack("<Q", len(blob)) + blob + b"\x00")
        with self.assertRaises(mx.AdapterError) as raised:
            mx.SafetensorsFile(path)
        self.assertIn("duplicate key 'x'", str(raised.exception))

    def test_deeply_nested_header_is_an_input_error_not_a_crash(self) -> None:
        path = os.path.join(self.dir.name, "deep.safetensors")
        blob = b'{"__metadata__":' + b"[" * 100000 + b"]" * 100000 + b"}"
        pathlib.Path(path).write_bytes(struct.pack("<Q", len(blob)) + blob)
        with self.assertRaises(mx.AdapterError) as raised:
            mx.SafetensorsFile(path)
        self.assertEqual(raised.exception.exit_code, mx.EXIT_INPUT)

    def test_problem_contract_is_parsed(self) -> None:
        path = os.path.join(self.dir.name, "p.safetensors")
        write_problem(path)
        p = mx.Problem(path, "id-1")
        self.assertEqual((p.contract.tokens, p.contract.hidden_size, p.contract.intermediate_size), (T, HP - 16, IP))
        self.assertEqual(p.tensor("topk_ids").shape, (T, K))
        p.close()


class GuardZonesTest(unittest.TestCase):
    """EXTERNAL_PROTOCOL.md "Guard zones": the contract field and the helpers that honour it."""

    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def contract(self, **meta: str) -> mx.Contract:
        path = os.path.join(self.dir.name, "p.safetensors")
        write_problem(path, **meta)
        problem = mx.Problem(path, "id")
        self.addCleanup(problem.close)
        return problem.contract

    def test_guard_bytes_is_read_optional_and_bounded(self):
        self.assertEqual(self.contract().guard_bytes, 0)
        self.assertEqual(self.contract(guard_bytes="4096").guard_bytes, 4096)
        for bad in ("-1", str(mx.MAX_GUARD_BYTES + 1), "many"):
            with self.assertRaises(mx.AdapterError) as e:
                self.contract(guard_bytes=bad)
            self.assertIn("guard_bytes", str(e.exception))

    def test_guarded_bytes_sit_between_0xff_zones(self):
        data = bytes(range(7))
        view = mx.guarded_bytes(data, 5)
        self.assertEqual(bytes(view), data)
        block = view.obj
        self.assertEqual(bytes(block[:5]), b"\xff" * 5)
        self.assertEqual(bytes(block[12:]), b"\xff" * 5)
        self.assertEqual(len(block), 17)

    def test_torch_guarded_keeps_values_and_reads_nan_past_the_end(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch not importable")
        scales = torch.arange(12, dtype=torch.uint8).reshape(3, 4)
        guarded = mx.torch_guarded(torch, scales, 64)
        self.assertTrue(torch.equal(guarded, scales))
        self.assertEqual((guarded.dtype, tuple(guarded.shape)), (torch.uint8, (3, 4)))
        # The byte just past the tensor (what an unmasked tail load reads) is the guard: E8M0 NaN.
        beyond = torch.as_strided(guarded, (guarded.numel() + 1,), (1,), guarded.storage_offset())
        self.assertEqual(int(beyond[-1]), 0xFF)
        before = torch.as_strided(guarded, (1,), (1,), guarded.storage_offset() - 1)
        self.assertEqual(int(before[0]), 0xFF)


class WorkerLoopTest(unittest.TestCase):
    """The echo adapter driven the way mxguard drives a --kernel-worker."""

    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.script = os.path.join(self.dir.name, "echo.py")
        pathlib.Path(self.script).write_text(ECHO_ADAPTER.format(helper_dir=str(HERE)))
        self.problem = os.path.join(self.dir.name, "problem.safetensors")
        write_problem(self.problem)

    def start(self, env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, self.script, "--worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stdout.close(), proc.stderr.close(),
                                 proc.stdin.close() if not proc.stdin.closed else None))
        return proc

    def ask(self, proc: subprocess.Popen, line: str) -> dict:
        proc.stdin.write((line + "\n").encode())
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    def request(self, problem_id: str, problem: str | None = None) -> tuple[str, str]:
        out = os.path.join(self.dir.name, "y-" + problem_id.replace("/", "_") + ".safetensors")
        return json.dumps({"type": "run", "id": problem_id, "problem": problem or self.problem, "output": out}), out

    def test_hello_then_answers_until_stdin_closes(self) -> None:
        proc = self.start()
        hello = json.loads(proc.stdout.readline())
        self.assertEqual(hello, {"type": "hello", "protocol": "mxguard-worker/2", "kernel": "echo",
                                 "kernel_version": "0.1", "device": "test-device", "versions": {"lib": "1.2"}})
        for problem_id in ("a/b/flag=1", "second"):
            line, out = self.request(problem_id)
            self.assertEqual(self.ask(proc, line), {"type": "result", "id": problem_id, "status": "ok"})
            y = mx.SafetensorsFile(out)
            self.assertEqual(y.tensor("y").shape, (T, HP - 16))
            # Row 1 of y is row 1 of hidden cut to H: bf16 bit patterns HP .. HP + H - 1.
            self.assertEqual(struct.unpack(f"<{HP - 16}H", bytes(y.tensor("y").data)[2 * (HP - 16):4 * (HP - 16)]),
                             tuple(range(HP, HP + HP - 16)))
            self.assertEqual(y.metadata["id"], problem_id)
            y.close()
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(proc.stdout.read(), b"")  # nothing but protocol lines on stdout
        err = proc.stderr.read().decode()
        self.assertIn("loading kernels...", err)  # what the adapter printed went to stderr
        self.assertIn("running second", err)

    def test_malformed_request_and_unreadable_problem_are_answered_and_the_worker_goes_on(self) -> None:
        proc = self.start()
        proc.stdout.readline()
        self.assertEqual(self.ask(proc, "this is not json")["status"], "error")
        missing = os.path.join(self.dir.name, "missing.safetensors")
        line, _ = self.request("m", missing)
        answer = self.ask(proc, line)
        self.assertEqual((answer["id"], answer["status"], answer.get("fatal", False)), ("m", "error", False))
        self.assertIn("missing.safetensors", answer["message"])
        line, _ = self.request("refuse-1")
        answer = self.ask(proc, line)
        self.assertEqual((answer["status"], answer.get("fatal", False)), ("error", False))
        self.assertIn("no kernel for this shape", answer["message"])
        line, _ = self.request("ok")
        self.assertEqual(self.ask(proc, line)["status"], "ok")

    def test_kernel_exception_is_answered_fatal_and_the_worker_exits(self) -> None:
        proc = self.start()
        proc.stdout.readline()
        line, _ = self.request("boom-1")
        answer = self.ask(proc, line)
        self.assertEqual((answer["id"], answer["status"], answer["fatal"]), ("boom-1", "error", True))
        self.assertIn("RuntimeError: device lost", answer["message"])
        self.assertEqual(proc.wait(timeout=30), mx.EXIT_ENVIRONMENT)
        self.assertIn("Traceback", proc.stderr.read().decode())

    def test_other_protocol_version_asked_by_mxguard_is_refused(self) -> None:
        proc = self.start({"MXGUARD_WORKER_PROTOCOL": "3"})
        self.assertEqual(proc.wait(timeout=30), mx.EXIT_INPUT)
        self.assertEqual(proc.stdout.read(), b"")
        self.assertIn("mxguard-worker/2", proc.stderr.read().decode())

    def test_version_1_runs_one_problem(self) -> None:
        out = os.path.join(self.dir.name, "y.safetensors")
        r = subprocess.run([sys.executable, self.script, self.problem, out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(mx.SafetensorsFile(out).tensor("y").shape, (T, HP - 16))
        r = subprocess.run([sys.executable, self.script, self.problem], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("IN and OUT are required", r.stderr)


MXGUARD = os.environ.get("MXGUARD", "")


@unittest.skipUnless(MXGUARD and os.access(MXGUARD, os.X_OK), "needs $MXGUARD (the mxguard binary; CTest sets it)")
class HostAdapterTest(unittest.TestCase):
    """host_adapter.py must give exactly `mxguard kernel run --backend host`'s y, in both versions."""

    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.problem = os.path.join(self.dir.name, "problem.safetensors")
        write_problem(self.problem)
        expected = os.path.join(self.dir.name, "expected.safetensors")
        subprocess.run([MXGUARD, "kernel", "run", "--backend", "host", "--in", self.problem, "--out", expected],
                       check=True, capture_output=True)
        self.expected = bytes(mx.SafetensorsFile(expected).tensor("y").data)
        self.adapter = str(HERE / "host_adapter.py")

    def y_of(self, path: str) -> bytes:
        return bytes(mx.SafetensorsFile(path).tensor("y").data)

    def test_version_1(self) -> None:
        out = os.path.join(self.dir.name, "y.safetensors")
        r = subprocess.run([sys.executable, self.adapter, self.problem, out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.y_of(out), self.expected)

    def test_version_2_answers_many_requests_from_one_process(self) -> None:
        proc = subprocess.Popen([sys.executable, self.adapter, "--worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        hello = json.loads(proc.stdout.readline())
        self.assertEqual(hello["protocol"], "mxguard-worker/2")
        self.assertIn("mxguard", hello["versions"])
        for i in range(3):
            out = os.path.join(self.dir.name, f"y{i}.safetensors")
            proc.stdin.write((json.dumps({"type": "run", "id": str(i), "problem": self.problem, "output": out}) + "\n").encode())
            proc.stdin.flush()
            self.assertEqual(json.loads(proc.stdout.readline())["status"], "ok")
            self.assertEqual(self.y_of(out), self.expected)
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=30), 0)
        proc.stdout.close()
        proc.stderr.close()


class AiterWorkerModeTest(unittest.TestCase):
    def test_worker_without_aiter_fails_before_its_hello(self) -> None:
        # Without AITER (or torch) the set-up fails once, up front: exit 3 naming the import, no hello.
        r = subprocess.run([sys.executable, str(HERE / "aiter_fused_moe.py"), "--worker"], input=b"",
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"cannot import", r.stderr)


if __name__ == "__main__":
    unittest.main()
