#!/usr/bin/env python3
"""End to end: `mxguard matrix --backend ggml` on llama.cpp's ggml MXFP4 MoE kernel.

1. The ggml case set (cases/ggml): no FAIL, no BLIND, no ERROR; every combination this test
   derives as consistent -- by its own statement of the rule, written here from llama.cpp's
   converter (gate = rows[0::2], up = rows[1::2] for weights, scales and biases, nibble transform
   applied, E8M0 byte unchanged), independent of the C++ derivation -- PASSes, every other is
   CAUGHT, and every named ggml scenario is realised and CAUGHT.
2. Stack mode: llama.cpp's own converter (a copy of the bundle's conversion/ folder) prepares the
   experts instead of mxguard. Unpatched: every combination PASSes. With one line patched (the
   gate_up split strides exchanged): every combination FAILs and the run exits 1.

Environment: MXGUARD (binary), MXG_SOURCE (repository root), MXG_GGML_SOURCE (llama.cpp checkout;
default <MXG_SOURCE>/.deps/llama.cpp), PYTHON_FOR_CONVERTER (default /usr/bin/python3).
"""
import gzip
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(os.environ["MXG_SOURCE"])
MXGUARD = os.environ["MXGUARD"]
GGML_SOURCE = Path(os.environ.get("MXG_GGML_SOURCE") or SOURCE / ".deps/llama.cpp")
PYTHON = os.environ.get("PYTHON_FOR_CONVERTER", "/usr/bin/python3")


def consistent(dims):
    """llama.cpp's converter pipeline, stated independently of mxguard's derivation."""
    split_ok = dims["split"] == "right"
    companion_ok = lambda v: v == "right" or (v == "like-weights" and split_ok)  # noqa: E731
    return (split_ok and companion_ok(dims["scale_split"]) and companion_ok(dims["bias_split"])
            and dims["nibbles"] == "applied" and dims["scale_byte"] == "right")


def run_matrix(out, *extra, expect):
    proc = subprocess.run([MXGUARD, "matrix", "--backend", "ggml", "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=1800, cwd=SOURCE,
                          env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"})
    if proc.returncode != expect:
        raise AssertionError(f"exit {proc.returncode}, expected {expect}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    # A closed run's log is compressed (results.jsonl.gz).
    with gzip.open(out / "results.jsonl.gz", "rt", encoding="utf-8") as f:
        results = [json.loads(line) for line in f if line.strip()]
    return results


class GgmlMatrix(unittest.TestCase):
    def test_case_set_verdicts_follow_the_converter_rule(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = run_matrix(Path(tmp) / "out", "--cases", str(SOURCE / "cases/ggml"), expect=0)
        self.assertGreater(len(results), 100)
        verdicts = {}
        for r in results:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
            expected = "PASS" if consistent(r["dims"]) else "CAUGHT"
            self.assertEqual(r["verdict"], expected, f"{r['id']}: {r.get('message')}")
        self.assertGreater(verdicts.get("PASS", 0), 0)
        scenarios = json.loads((SOURCE / "cases/scenarios.json").read_text())["scenarios"]
        for s in (s for s in scenarios if s.get("family") == "ggml"):
            hits = [r for r in results if s["name"] in r.get("scenarios", [])]
            self.assertTrue(hits, f"scenario {s['name']} not realised by cases/ggml")
            self.assertTrue(all(r["verdict"] == "CAUGHT" for r in hits), s["name"])

    @unittest.skipUnless((GGML_SOURCE / "conversion/gpt_oss.py").exists(),
                         f"no llama.cpp source at {GGML_SOURCE} (set MXG_GGML_SOURCE or run ci/fetch-llama-cpp)")
    def test_stack_mode_catches_a_one_line_converter_regression(self):
        driver = SOURCE / "ci/tools/ggml_convert_layer.py"
        case = SOURCE / "cases/ggml/ggml-small.json"
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            conversion = tmp / "conversion"
            shutil.copytree(GGML_SOURCE / "conversion", conversion)
            cmd = f"{PYTHON} {shlex.quote(str(driver))} --converter-dir {shlex.quote(str(conversion))} --in {{in}} --out {{out}}"
            good = run_matrix(tmp / "good", "--cases", str(case), "--prep-cmd", cmd, expect=0)
            self.assertTrue(good)
            self.assertTrue(all(r["verdict"] == "PASS" and r["dims"]["prep"] == "stack" for r in good),
                            [(r["id"], r["verdict"]) for r in good])

            gpt_oss = conversion / "gpt_oss.py"
            text = gpt_oss.read_text()
            original = "data_torch[:, ::2, :, :], data_torch[:, 1::2, :, :]"
            self.assertEqual(text.count(original), 1, "the converter's gate_up block split moved; update this test")
            gpt_oss.write_text(text.replace(original, "data_torch[:, 1::2, :, :], data_torch[:, ::2, :, :]"))
            bad = run_matrix(tmp / "bad", "--cases", str(case), "--prep-cmd", cmd, expect=1)
            self.assertEqual(len(bad), len(good))
            self.assertTrue(all(r["verdict"] == "FAIL" for r in bad), [(r["id"], r["verdict"]) for r in bad])


if __name__ == "__main__":
    unittest.main(verbosity=2)
