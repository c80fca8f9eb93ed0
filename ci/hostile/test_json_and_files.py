"""Hostile files through the binary: 100,000-level JSON (C1), FIFOs without a writer (H1), a
400,000-tensor safetensors header (H2). Each must end in exit 2 with one line naming the input."""
import json
import os
import struct
import time
import urllib.request

from hostile_util import HostileCase, Standin, deep_json, f64_tensor_file, run, safetensors_bytes


class DeepJson(HostileCase):
    def test_safetensors_header(self):
        a = self.write("a.safetensors", safetensors_bytes(deep_json("y").encode()))
        b = self.path("b.safetensors")
        f64_tensor_file(b, {"y": ("F64", [1], struct.pack("<d", 1.0))})
        self.assert_input_error(run(["compare", a, b]), "a.safetensors", "nested deeper")

    def test_model_config(self):
        cfg = self.write("config.json", deep_json("hidden_size"))
        self.assert_input_error(run(["preflight", "--model-config", cfg]), "config.json", "nested deeper")

    def test_case_file(self):
        case = self.write("deep.json", deep_json("shapes"))
        self.assert_input_error(run(["matrix", "--cases", case, "--list"]), "deep.json", "nested deeper")

    def test_probe_and_standin_data(self):
        data = self.write("deep.jsonl", deep_json("question") + "\n")
        self.assert_input_error(run(["probe", "--data", data, "--out", self.path("o"), "--base-url",
                                     "http://127.0.0.1:9"]), "deep.jsonl", "nested deeper")
        self.assert_input_error(run(["standin", "--data", data, "--port", "0"]), "deep.jsonl", "nested deeper")

    def test_one_post_cannot_kill_the_standin(self):
        with Standin("--questions", "5") as s:
            for field in ("max_new_tokens", "stop", "text"):
                body = ('{"text":"q","sampling_params":{"%s":' % field + "[" * 100000 + "]" * 100000 + "}}").encode()
                req = urllib.request.Request(s.url + "/generate", data=body, headers={"Content-Type": "application/json"})
                try:
                    urllib.request.urlopen(req, timeout=10)
                    status = 200
                except urllib.error.HTTPError as e:
                    status = e.code
                self.assertEqual(status, 400, field)
                self.assertTrue(s.alive(), f"stand-in died on a nested {field}")


class Fifos(HostileCase):
    """Every input opened non-blocking and checked for a regular file before reading."""

    def test_fifo_inputs_fail_at_once(self):
        fifo = self.fifo("in.json")
        b = self.path("b.safetensors")
        f64_tensor_file(b, {"y": ("F64", [1], struct.pack("<d", 1.0))})
        commands = [
            ["compare", fifo, b],
            ["compare", b, fifo],
            ["preflight", "--model-config", fifo],
            ["matrix", "--cases", fifo, "--list"],
            ["probe", "--data", fifo, "--out", self.path("o"), "--base-url", "http://127.0.0.1:9"],
            ["standin", "--data", fifo, "--port", "0"],
        ]
        for args in commands:
            with self.subTest(args=args[0:2]):
                r = run(args, timeout=20)
                self.assert_input_error(r, "in.json")
                self.assertLess(r.seconds, 10)


class HugeHeader(HostileCase):
    def test_400k_tensors_parse_in_linear_time(self):
        n = 400_000
        header = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(n)}
        p = self.write("many.safetensors", safetensors_bytes(header, b"\0" * n))
        b = self.path("b.safetensors")
        f64_tensor_file(b, {"y": ("F64", [1], struct.pack("<d", 1.0))})
        r = run(["compare", p, b], timeout=120)
        # The header is valid; the tensor 'y' is not in it: an input error after a linear parse.
        self.assert_input_error(r, "no tensor 'y'")
        self.assertLess(r.seconds, 60)
