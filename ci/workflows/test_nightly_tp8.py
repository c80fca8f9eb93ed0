"""The nightly's probe job at tp 8, simulated end to end on this machine: the preflight and probe steps of
nightly.yml (their command lines taken from the workflow file, GitHub expressions substituted), then
mxg_ci.py verdict, as the workflow runs them. A healthy tp 8 configuration (SGLANG_USE_AITER_MOE_GU_ITLV=1,
a server at GPT-OSS-120b's healthy accuracy) must be green, with the pad-convention hazard shown as a warning
annotation and in the step summary; a real pad mismatch (preflight told the kernel takes the pad exactly, the
vLLM #44679 class) must make the same job red. MXGUARD (environment) names the mxguard binary."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent
MXG_CI = HERE / "mxg_ci.py"
MXGUARD = os.environ.get("MXGUARD")
CONFIG_120B = SOURCE / "harness/preflight/tests/fixtures/gpt-oss-120b.config.json"
MODEL = "openai/gpt-oss-120b"


def step_command(workflow: str, marker: str) -> str:
    """The shell command of the run block line containing `marker`, with its backslash continuations."""
    lines = (HERE / workflow).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    parts = []
    for line in lines[start:]:
        parts.append(line.strip().rstrip("\\").strip())
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(parts).rstrip("&").strip()


def substitute(command: str, values: dict[str, str]) -> list[str]:
    for expression, value in values.items():
        command = command.replace("${{ " + expression + " }}", value)
    leftover = re.findall(r"\$\{\{[^}]*\}\}", command)
    if leftover:
        raise AssertionError(f"unsubstituted expressions {leftover} in {command}")
    argv = shlex.split(command)
    return [MXGUARD if a == "bin/mxguard" else a for a in argv]


@unittest.skipUnless(MXGUARD, "MXGUARD not set: the simulation needs the mxguard binary")
class NightlyTp8(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        self.summary = self.tmp / "step-summary.md"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_") and k != "MXG_CI_RESULTS"}
        self.env.update({"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(self.tmp / "output"),
                         "GITHUB_STEP_SUMMARY": str(self.summary), "MODEL": MODEL, "MXG_CI_JOB": "probe",
                         "SGLANG_USE_AITER": "1"})
        thresholds = json.loads((HERE / "probe-thresholds.json").read_text())["models"][MODEL]
        self.tp, self.min_accuracy = str(thresholds["tp"]), str(thresholds["min_accuracy"])
        self.data = self.tmp / "q.jsonl"
        subprocess.run([MXGUARD, "standin", "--make-data", "60", "--out", str(self.data)], check=True,
                       capture_output=True)

    def shell(self, argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=self.tmp)

    def standin(self, accuracy: str) -> str:
        server = subprocess.Popen([MXGUARD, "standin", "--data", str(self.data), "--port", "0", "--accuracy", accuracy,
                                   "--threads", "16"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(server.stdout.close)
        self.addCleanup(server.wait)
        self.addCleanup(server.terminate)
        url = server.stdout.readline().split("listening on ")[1].split()[0]
        return url.rstrip("/").rsplit(":", 1)[1]

    def run_job(self, gu_itlv: str, accuracy: str, preflight_extra: list[str]) -> subprocess.CompletedProcess:
        values = {"matrix.slug": f"gpt-oss-120b-gu{gu_itlv}", "matrix.gu_itlv": gu_itlv,
                  "steps.limits.outputs.tp": self.tp, "steps.limits.outputs.wait": "30",
                  "steps.limits.outputs.min_accuracy": self.min_accuracy,
                  "steps.data.outputs.path": str(self.data)}
        preflight = substitute(step_command("nightly.yml", 'mxg_ci.py run --name "preflight'), values)
        preflight = [str(CONFIG_120B) if a == "$config_json" else a for a in preflight]
        preflight = [sys.executable if a == "python3" else a for a in preflight]
        preflight[preflight.index("ci/workflows/mxg_ci.py")] = str(MXG_CI)
        self.preflight_run = self.shell(preflight + preflight_extra)
        self.env["PORT"] = self.standin(accuracy)
        probe = substitute(step_command("nightly.yml", 'mxg_ci.py run --name "probe'), values)
        probe = [sys.executable if a == "python3" else a for a in probe]
        probe[probe.index("ci/workflows/mxg_ci.py")] = str(MXG_CI)
        probe = [a.replace("$PORT", self.env["PORT"]).replace("$MODEL", MODEL) for a in probe]
        probe += ["--num-questions", "40", "--parallel", "8"]
        self.probe_run = self.shell(probe)
        return self.shell([sys.executable, str(MXG_CI), "verdict", "--title", "probe"])

    def test_healthy_tp8_interleave_is_green_with_the_pad_hazard_annotated(self):
        verdict = self.run_job("1", "0.88", [])
        self.assertEqual(self.preflight_run.returncode, 0, self.preflight_run.stdout + self.preflight_run.stderr)
        self.assertIn("::warning title=Preflight WARN (intermediate-pad-kernel-dependent)", self.preflight_run.stdout)
        self.assertEqual(self.probe_run.returncode, 0, self.probe_run.stdout + self.probe_run.stderr)
        self.assertEqual(verdict.returncode, 0, verdict.stdout + verdict.stderr)
        self.assertIn("— PASS", verdict.stdout)
        summary = self.summary.read_text()
        self.assertIn("mxguard preflight: WARN (exit 0)", summary)
        self.assertIn("intermediate-pad-kernel-dependent", summary)
        records = [json.loads(line) for line in (self.tmp / "ci-results" / "results.jsonl").read_text().splitlines()]
        self.assertEqual([r["result"] for r in records], ["pass", "pass"])

    def test_exact_pad_kernel_on_the_same_weights_is_a_regression(self):
        # FlyDSL taking intermediate_pad = I_p - I/tp exactly on weights CK-tile would read right.
        verdict = self.run_job("1", "0.88", ["--kernel-pad-convention", "exact"])
        self.assertEqual(self.preflight_run.returncode, 1, self.preflight_run.stdout)
        self.assertIn("BAD [intermediate-pad-drops-units]", self.preflight_run.stdout)
        self.assertEqual(verdict.returncode, 1, verdict.stdout + verdict.stderr)
        self.assertIn("::error title=Regression (probe)", verdict.stdout)

    def test_an_unwritable_step_summary_keeps_the_verdict(self):
        self.env["GITHUB_STEP_SUMMARY"] = str(self.tmp / "no-such-dir" / "summary.md")
        done = self.shell([MXGUARD, "preflight", "--model-config", str(CONFIG_120B), "--env", "SGLANG_USE_AITER=1",
                           "--tp", self.tp])
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("WARN [intermediate-pad-kernel-dependent]", done.stdout)
        self.assertIn("cannot append to $GITHUB_STEP_SUMMARY", done.stderr)


if __name__ == "__main__":
    unittest.main()
