#!/usr/bin/env python3
"""An installed mxguard is relocatable, and a binary without its data says where it looked.

1. `cmake --install` of the build into a temporary prefix, then the prefix moved elsewhere: the
   main job (`mxguard matrix`, default cases and scenarios, no --cases) runs from an unrelated
   working directory and finds cases/default and cases/scenarios.json beside the binary.
2. The binary copied alone (what a CI artifact of just the executable holds): `matrix` exits 2 with
   one line naming --cases, the places tried and MXGUARD_DATA; with MXGUARD_DATA pointing at the
   relocated data it runs again. preflight, whose scenarios only annotate, warns and still works.

Environment: MXG_BUILD_DIR (the configured and built tree), MXGUARD (its binary).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

BUILD = Path(os.environ["MXG_BUILD_DIR"])
# One instance of the default small-decode case: enough to prove the default cases were found.
FILTER = "*small-tp1-r0/T=1/route=uniform/*"
PREFLIGHT_CONFIG = {"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": 2880,
                    "intermediate_size": 2880, "num_local_experts": 32, "num_experts_per_tok": 4,
                    "num_hidden_layers": 24, "quantization_config": {"quant_method": "mxfp4"}}


def run(argv, cwd, env=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})})


class RelocatableInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="mxg-install-"))
        first = cls.tmp / "first-prefix"
        r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(first), "--component", "mxguard"],
                           capture_output=True, text=True, timeout=240)
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed:\n{r.stdout}\n{r.stderr}")
        cls.prefix = cls.tmp / "moved" / "elsewhere"
        cls.prefix.parent.mkdir(parents=True)
        shutil.move(str(first), str(cls.prefix))  # relocation: nothing may point at the first prefix
        cls.workdir = cls.tmp / "cwd"
        cls.workdir.mkdir()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def matrix(self, binary, out, env=None):
        return run([str(binary), "matrix", "--filter", FILTER, "--jobs", "2", "--out", str(out)],
                   cwd=self.workdir, env=env)

    def test_installed_tree_holds_binary_and_data(self):
        self.assertTrue((self.prefix / "bin" / "mxguard").is_file())
        for data in ["cases/scenarios.json", "cases/default", "cases/ggml", "cases/nightly", "cases/premerge"]:
            self.assertTrue((self.prefix / "share/mxguard" / data).exists(), data)
        self.assertFalse((self.prefix / "share/mxguard/cases").is_symlink(), "installed data must be a copy")

    def test_relocated_install_runs_the_main_job(self):
        out = self.tmp / "out-installed"
        r = self.matrix(self.prefix / "bin" / "mxguard", out)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        report = json.loads((out / "report.json").read_text())
        counts = report["totals"]["counts"]
        self.assertGreater(sum(counts.values()), 0)
        self.assertEqual(counts.get("ERROR", 0), 0)
        # The default scenarios were loaded: scenario-named combinations are judged CAUGHT.
        self.assertGreater(counts.get("CAUGHT", 0), 0)
        self.assertGreater(counts.get("PASS", 0), 0)

    def test_lone_binary_names_where_it_looked(self):
        lone = self.tmp / "lone" / "mxguard"
        lone.parent.mkdir()
        shutil.copy2(self.prefix / "bin" / "mxguard", lone)
        r = self.matrix(lone, self.tmp / "out-lone", env={"MXGUARD_DATA": ""})
        self.assertEqual(r.returncode, 2, r.stderr)
        message = r.stderr.strip().splitlines()
        self.assertEqual(len(message), 1, r.stderr)
        self.assertIn("--cases", message[0])
        self.assertIn(str(self.tmp / "share" / "mxguard" / "cases" / "default"), message[0])
        self.assertIn("MXGUARD_DATA", message[0])

        r = self.matrix(lone, self.tmp / "out-lone-env", env={"MXGUARD_DATA": str(self.prefix / "share/mxguard")})
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])

        config = self.tmp / "config.json"
        config.write_text(json.dumps(PREFLIGHT_CONFIG))
        r = run([str(lone), "preflight", "--model-config", str(config)], cwd=self.workdir, env={"MXGUARD_DATA": ""})
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertIn("warning: named scenarios left out", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
