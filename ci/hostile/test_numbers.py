"""Numeric edge values through the binary: option bounds (C3, H6), timeout overflow, compare's
routing id overflow (C2) and metric scaling, integer wraps in case ranks and config sizes."""
import json
import struct

from hostile_util import HostileCase, Standin, f64_tensor_file, run


class Bounds(HostileCase):
    def test_parallel_sizes_and_jobs_are_bounded(self):
        cfg = self.write("config.json", json.dumps({
            "num_local_experts": 32, "num_experts_per_tok": 4, "hidden_size": 2880, "intermediate_size": 2880}))
        for args in (["preflight", "--model-config", cfg, "--tp", "10000000"],
                     ["preflight", "--model-config", cfg, "--tp", "4611686018427387904"],
                     ["layout", "tp-table", "--intermediate", "2880", "--hidden", "2880", "--tp", "4611686018427387904"],
                     ["matrix", "--jobs", "100000", "--list"],
                     ["matrix", "--jobs", "2147483647", "--list"]):
            with self.subTest(args=args):
                r = run(args, timeout=30)
                self.assert_input_error(r)
                self.assertLess(r.seconds, 10)
                self.assertNotIn("179769313486231570", r.stderr)  # no 309-digit bound

    def test_durations_must_be_finite(self):
        for args in (["probe", "--timeout", "nan", "--data", "x"], ["probe", "--timeout", "1e999", "--data", "x"],
                     ["probe", "--wait-ready", "-1", "--data", "x"], ["matrix", "--timeout", "inf", "--list"],
                     ["kernel", "run", "--timeout", "nan", "--backend", "host", "--in", "x", "--out", "y"]):
            with self.subTest(args=args):
                self.assert_input_error(run(args), "--")

    def test_config_sizes_do_not_wrap(self):
        cfg = self.write("config.json", json.dumps({
            "num_local_experts": 32, "num_experts_per_tok": 4, "hidden_size": 18446744073709551615,
            "intermediate_size": 2880}))
        r = run(["preflight", "--model-config", cfg])
        self.assert_input_error(r, "hidden_size", "18446744073709551615")

    def test_duplicate_config_keys_refused(self):
        cfg = self.write("config.json", '{"num_local_experts": 32, "num_local_experts": 8, "num_experts_per_tok": 4,'
                                        ' "hidden_size": 2880, "intermediate_size": 2880}')
        self.assert_input_error(run(["preflight", "--model-config", cfg]), "num_local_experts", "twice")

    def test_layout_explain_shape_does_not_wrap(self):
        r = run(["layout", "explain", "shuffle-weight", "--shape", "1,4611686018427387904,64", "--row", "1",
                 "--col", "1"])
        self.assert_input_error(r, "--shape")


class Compare(HostileCase):
    def test_huge_tiny_and_int32_max_routing(self):
        a, b = self.path("a.safetensors"), self.path("b.safetensors")
        f64_tensor_file(a, {"y": ("F64", [1, 16], struct.pack("<16d", 1e200, *([1e-200] * 15)))})
        f64_tensor_file(b, {"y": ("F64", [1, 16], struct.pack("<16d", -1e200, *([2e-200] * 15))),
                            "topk_ids": ("I32", [1, 1], struct.pack("<i", 2147483647)),
                            "topk_weights": ("F32", [1, 1], struct.pack("<f", 1.0))})
        r = run(["compare", a, b, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        # Hand-computed: the 1e200 pair dominates: nmse = (2e200)^2 / (1e200)^2 = 4 (the 1e-200 terms are
        # ~1e-800 relative), max |A-B| = 2e200, RMS(B) = 1e200 / 4 -> max_rel 8.
        self.assertAlmostEqual(j["nmse"], 4.0, places=9)
        self.assertAlmostEqual(j["max_rel"], 8.0, places=9)
        self.assertEqual(j["experts"][0]["expert"], 2147483647)


class Timeouts(HostileCase):
    def test_huge_timeout_is_not_zero(self):
        data = self.data_file()
        with Standin("--data", data, "--accuracy", "1") as s:
            r = run(["probe", "--base-url", s.url, "--data", data, "--num-questions", "3", "--num-shots", "0",
                     "--timeout", "1e10", "--out", self.path("o"), "--quiet"], timeout=120)
        self.assertNotEqual(r.returncode, 3, r.stdout + r.stderr)
        with open(self.path("o/probe.json")) as f:
            self.assertEqual(json.load(f)["errors"], 0)
