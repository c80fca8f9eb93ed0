"""Tests of lint_workflows.py and mxg_ci.py: the real workflows lint clean, and each deliberate typo in a
copy of them is reported. MXGUARD (environment) names the mxguard binary; without it the option checks
are skipped, never passed."""
from __future__ import annotations

import contextlib
import io
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINT = HERE / "lint_workflows.py"
MXG_CI = HERE / "mxg_ci.py"
MXGUARD = os.environ.get("MXGUARD")


sys.path.insert(0, str(HERE))
import lint_workflows  # noqa: E402  (in-process: one Python for every lint run, --help outputs cached)


def lint(*files: Path, mxguard: str | None = MXGUARD) -> subprocess.CompletedProcess:
    args = [*map(str, files)] + (["--mxguard", mxguard] if mxguard else [])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = lint_workflows.main(args)
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


class CommandLine(unittest.TestCase):
    def test_script_runs_and_exits_zero_on_the_real_workflows(self):
        args = [sys.executable, str(LINT)] + (["--mxguard", MXGUARD] if MXGUARD else [])
        done = subprocess.run(args, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("2 files, 0 problems", done.stderr)


class MutatedWorkflow(unittest.TestCase):
    """Each test replaces one exact snippet of a real workflow and expects one named problem."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)

    def mutate(self, name: str, old: str, new: str) -> Path:
        text = (HERE / name).read_text(encoding="utf-8")
        self.assertIn(old, text, f"snippet to mutate is gone from {name}; update the test")
        target = self.tmp / name
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
        return target

    def assertReports(self, path: Path, *fragments: str, mxguard: str | None = MXGUARD):
        done = lint(path, mxguard=mxguard)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        for fragment in fragments:
            self.assertIn(fragment, done.stdout)

    def test_real_workflows_are_clean(self):
        done = lint(HERE / "nightly.yml", HERE / "premerge.yml")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_misspelled_step_key(self):
        self.assertReports(self.mutate("nightly.yml", "continue-on-error: true   # recorded",
                                       "continue-on-eror: true   # recorded"),
                           "unknown step key 'continue-on-eror'")

    def test_misspelled_job_key(self):
        self.assertReports(self.mutate("premerge.yml", "    timeout-minutes: 90\n    defaults:",
                                       "    timeout-minute: 90\n    defaults:"),
                           "unknown job key 'timeout-minute'")

    def test_unknown_job_in_needs(self):
        self.assertReports(self.mutate("nightly.yml", "needs: [config, build, kernel-merge, probe]",
                                       "needs: [config, build, kernel_merge, probe]"),
                           "needs unknown job 'kernel_merge'")

    def test_step_with_run_and_uses(self):
        self.assertReports(self.mutate("premerge.yml", "        run: |\n          MXG_SETUP_NO_HIP=1 MXG_SETUP_NO_BROWSER=1 ci/setup\n          chmod",
                                       "        uses: actions/setup-python@v5\n        run: |\n          MXG_SETUP_NO_HIP=1 MXG_SETUP_NO_BROWSER=1 ci/setup\n          chmod"),
                           "exactly one of 'run' or 'uses'")

    def test_bash_syntax_error(self):
        self.assertReports(self.mutate("nightly.yml", "            sleep 10\n          done",
                                       "            sleep 10\n          dne"),
                           "bash -n:")

    def test_missing_repo_script(self):
        self.assertReports(self.mutate("premerge.yml", "python3 ci/workflows/mxg_ci.py find-baseline",
                                       "python3 ci/workflows/mxg_cy.py find-baseline"),
                           "names ci/workflows/mxg_cy.py, which does not exist")

    def test_missing_case_folder(self):
        self.assertReports(self.mutate("nightly.yml", "--cases cases/nightly", "--cases cases/nighty"),
                           "names cases/nighty")

    def test_unknown_input(self):
        self.assertReports(self.mutate("nightly.yml", "inputs.runner_mi300 ||", "inputs.runner_mi30 ||"),
                           "input 'runner_mi30' is not defined")

    def test_unknown_matrix_key(self):
        self.assertReports(self.mutate("nightly.yml", "SGLANG_USE_AITER_MOE_GU_ITLV: ${{ matrix.gu_itlv }}",
                                       "SGLANG_USE_AITER_MOE_GU_ITLV: ${{ matrix.gu_itvl }}"),
                           "matrix key 'gu_itvl'")

    def test_unknown_step_output_and_id(self):
        self.assertReports(self.mutate("nightly.yml", "--min-accuracy ${{ steps.limits.outputs.min_accuracy }}",
                                       "--min-accuracy ${{ steps.limits.outputs.min_acc }}"),
                           "never writes output 'min_acc'")
        self.assertReports(self.mutate("premerge.yml", "steps.baseline.outputs.run_id != ''",
                                       "steps.baselin.outputs.run_id != ''"),
                           "no earlier step has id 'baselin'")

    def test_unknown_needs_output(self):
        self.assertReports(self.mutate("nightly.yml", "fromJSON(needs.config.outputs.probe_matrix)",
                                       "fromJSON(needs.config.outputs.probe_matrx)"),
                           "declares no output 'probe_matrx'")

    def test_unbalanced_expression(self):
        self.assertReports(self.mutate("premerge.yml", "--title \"premerge probe\" \\\n            --infra-fails-job \"${{ vars.MXGUARD_INFRA_FAILS_JOB || 'true' }}\"",
                                       "--title \"premerge probe\" \\\n            --infra-fails-job \"${{ vars.MXGUARD_INFRA_FAILS_JOB || 'true' }\""),
                           "unbalanced")

    def test_unpinned_action(self):
        self.assertReports(self.mutate("premerge.yml", "uses: actions/download-artifact@v4\n        with:\n          name: probe-",
                                       "uses: actions/download-artifact\n        with:\n          name: probe-"),
                           "is not owner/repo@ref")

    def test_bad_mxg_ci_option(self):
        self.assertReports(self.mutate("nightly.yml", "verdict --results ci-results --title \"probe",
                                       "verdict --result-dir ci-results --title \"probe"),
                           "`mxg_ci.py verdict` has no option --result-dir")

    @unittest.skipUnless(MXGUARD, "MXGUARD not set: mxguard options cannot be checked")
    def test_bad_mxguard_option(self):
        self.assertReports(self.mutate("nightly.yml", "--cases cases/nightly --backend hip",
                                       "--case cases/nightly --backend hip"),
                           "`mxguard matrix` has no option --case")

    @unittest.skipUnless(MXGUARD, "MXGUARD not set: mxguard options cannot be checked")
    def test_bad_mxguard_subcommand_option_and_subcommand(self):
        self.assertReports(self.mutate("premerge.yml", "--stop gate", "--stopping gate"),
                           "`mxguard probe` has no option --stopping")
        self.assertReports(self.mutate("premerge.yml", "bin/mxguard probe fetch-data --split test",
                                       "bin/mxguard probe fetch-data --splt test"),
                           "`mxguard probe fetch-data` has no option --splt")
        self.assertReports(self.mutate("nightly.yml", "bin/mxguard matrix --cases cases/nightly",
                                       "bin/mxguard matrx --cases cases/nightly"),
                           "`mxguard` has no subcommand 'matrx'")

    @unittest.skipUnless(MXGUARD, "MXGUARD not set: mxguard options cannot be checked")
    def test_preflight_options_are_checked(self):
        self.assertReports(self.mutate("nightly.yml", "bin/mxguard preflight --model-config",
                                       "bin/mxguard preflight --model-confg"),
                           "`mxguard preflight` has no option --model-confg")


class MxgCi(unittest.TestCase):
    """mxg_ci.py maps mxguard's exit codes to results, annotations and a job verdict."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        self.results = self.tmp / "results.jsonl"
        self.env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "MXG_CI_JOB")}
        self.env["GITHUB_OUTPUT"] = str(self.tmp / "output")

    def ci(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(MXG_CI), *args], capture_output=True, text=True, env=self.env)

    def run_exit(self, code: int, name: str) -> subprocess.CompletedProcess:
        return self.ci("run", "--name", name, "--results", str(self.results), "--",
                       "sh", "-c", f"exit {code}")

    def test_exit_codes_become_distinct_results_and_annotations(self):
        expected = {0: ("pass", None), 1: ("regression", "::error title=Regression (s1)"),
                    2: ("input-error", "::error title=Input error (s2)"),
                    3: ("infrastructure", "::warning title=Infrastructure (s3)"),
                    139: ("infrastructure", "::warning title=Infrastructure (s139)")}
        for code, (result, annotation) in expected.items():
            done = self.run_exit(code, f"s{code}")
            self.assertEqual(done.returncode, code)
            if annotation:
                self.assertIn(annotation, done.stdout)
            else:
                self.assertNotIn("::", done.stdout)
        lines = [json.loads(line) for line in self.results.read_text().splitlines()]
        self.assertEqual([(r["exit_code"], r["result"]) for r in lines],
                         [(c, expected[c][0]) for c in expected])
        outputs = (self.tmp / "output").read_text()
        self.assertIn("result=regression\n", outputs)
        self.assertIn("exit_code=3\n", outputs)

    def test_verdict_regression_beats_infrastructure(self):
        self.run_exit(3, "a")
        self.run_exit(1, "b")
        done = self.ci("verdict", "--results", str(self.results))
        self.assertEqual(done.returncode, 1)
        self.assertIn("REGRESSION", done.stdout)

    def test_verdict_infrastructure_policy(self):
        self.run_exit(0, "a")
        self.run_exit(3, "b")
        self.assertEqual(self.ci("verdict", "--results", str(self.results)).returncode, 3)
        relaxed = self.ci("verdict", "--results", str(self.results), "--infra-fails-job", "false")
        self.assertEqual(relaxed.returncode, 0)
        self.assertIn("::warning title=Infrastructure", relaxed.stdout)

    def test_verdict_without_results_or_with_a_failed_job_is_infrastructure(self):
        self.assertEqual(self.ci("verdict", "--results", str(self.tmp / "none.jsonl")).returncode, 3)
        self.run_exit(0, "a")
        done = self.ci("verdict", "--results", str(self.results), "--job", "build=failure", "--job", "probe=success")
        self.assertEqual(done.returncode, 3)
        self.assertIn("job build", done.stdout)
        self.assertEqual(self.ci("verdict", "--results", str(self.results)).returncode, 0)

    def test_history_appends_one_line_per_run(self):
        self.run_exit(1, "probe x")
        history = self.tmp / "h" / "nightly.jsonl"
        for run_id in ("11", "12"):
            self.assertEqual(self.ci("history", "--results", str(self.results), "--history", str(history),
                                     "--field", f"run_id={run_id}").returncode, 0)
        lines = [json.loads(line) for line in history.read_text().splitlines()]
        self.assertEqual([(e["run_id"], e["verdict"]) for e in lines], [("11", "regression"), ("12", "regression")])
        self.assertEqual(lines[0]["results"][0]["name"], "probe x")

    def test_matrix_report_keeps_totals_margin_and_failing_ids(self):
        # report.json keeps its counts under "totals" (reports/REPORT_SCHEMA.md); mutant results never count.
        verdicts = ["PASS", "FAIL", "BLIND", "CAUGHT", "ERROR"]
        results = [{"id": f"c/s/T=1/x{i}", "verdict": v, "mutant": ""} for i, v in enumerate(verdicts)]
        results.append({"id": "c/s/T=1/x0/mutant=swap-tile", "verdict": "BLIND", "mutant": "swap-tile"})
        report = {"schema": "mxguard-report/1", "wall_seconds": 12.5, "interrupted": False, "backend": "hip",
                  "totals": {"counts": {"PASS": 1, "CAUGHT": 1, "FAIL": 1, "BLIND": 1, "ERROR": 1, "SKIPPED": 0},
                             "margin": 1600.0, "largest_pass_nmse": 1e-6, "smallest_caught_nmse": 1.6e-3,
                             "mutants_killed": 7, "mutants_total": 8, "mutant_results": 1, "exit_code": 1},
                  "results": results, "mutants": []}
        path = self.tmp / "m" / "report.json"
        path.parent.mkdir()
        path.write_text(json.dumps(report))
        self.ci("run", "--name", "matrix", "--results", str(self.results), "--report", str(path), "--",
                "sh", "-c", "exit 1")
        history = self.tmp / "nightly.jsonl"
        self.ci("history", "--results", str(self.results), "--history", str(history))
        step = json.loads(history.read_text())["results"][0]
        s = step["summary"]
        self.assertEqual(s["counts"]["FAIL"], 1)
        self.assertEqual(s["margin"], 1600.0)
        self.assertEqual((s["mutants_killed"], s["mutants_total"]), (7, 8))
        self.assertEqual(s["wall_seconds"], 12.5)
        self.assertEqual(s["failing_total"], 3)
        self.assertEqual([f["id"] for f in s["failing"]], ["c/s/T=1/x1", "c/s/T=1/x2", "c/s/T=1/x4"])
        self.assertIn("seconds", step)

    def test_matrix_run_is_read_through_its_header_and_streamed_log_with_versions(self):
        # A run folder as mxguard matrix leaves it: run.json (report.json less its results) and the closed
        # log results.jsonl.gz. report.json itself is never loaded: here it is not even JSON.
        folder = self.tmp / "hip-out"
        folder.mkdir()
        header = {"schema": "mxguard-report/1", "tool_version": "0.1.0", "backend": "hip", "wall_seconds": 7.0,
                  "interrupted": False,
                  "versions": {"mxguard": "0.1.0", "rocm": "7.0.2", "image": "sha256:abc"},
                  "shard": {"index": 1, "count": 1, "selected": 3, "planned": 3},
                  "totals": {"counts": {"PASS": 1, "CAUGHT": 1, "FAIL": 0, "BLIND": 0, "ERROR": 1, "SKIPPED": 0},
                             "margin": 20.0, "exit_code": 3}}
        (folder / "run.json").write_text(json.dumps(header))
        (folder / "report.json").write_text("{ this would fail a whole-file json.loads")
        lines = [{"id": "a", "verdict": "PASS", "mutant": ""}, {"id": "b", "verdict": "ERROR", "mutant": ""},
                 {"id": "c", "verdict": "CAUGHT", "mutant": ""}]
        with gzip.open(folder / "results.jsonl.gz", "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in lines)
        self.ci("run", "--name", "hip matrix", "--results", str(self.results), "--report", str(folder / "report.json"),
                "--", "sh", "-c", "exit 3")
        # A second step (the AITER adapter) reports another version of one library.
        aiter = self.tmp / "aiter-out"
        aiter.mkdir()
        (aiter / "run.json").write_text(json.dumps({**header, "versions": {"mxguard": "0.1.0", "aiter": "0.1.5",
                                                                           "rocm": "6.4.1"}}))
        (aiter / "results.jsonl").write_text("")
        self.ci("run", "--name", "aiter matrix", "--results", str(self.results), "--report", str(aiter / "report.json"),
                "--", "sh", "-c", "exit 0")
        history = self.tmp / "nightly.jsonl"
        self.ci("history", "--results", str(self.results), "--history", str(history))
        entry = json.loads(history.read_text())
        s = entry["results"][0]["summary"]
        self.assertEqual(s["counts"]["ERROR"], 1)
        self.assertEqual(s["margin"], 20.0)
        self.assertEqual(s["versions"]["image"], "sha256:abc")
        self.assertEqual(s["failing"], [{"id": "b", "verdict": "ERROR"}])
        self.assertEqual(entry["versions"], {"mxguard": "0.1.0", "rocm": "7.0.2 | 6.4.1", "image": "sha256:abc",
                                             "aiter": "0.1.5"})

    def test_failing_ids_are_capped(self):
        sys.path.insert(0, str(HERE))
        import mxg_ci  # noqa: E402
        results = [{"id": f"i{n}", "verdict": "FAIL", "mutant": ""} for n in range(mxg_ci.MAX_FAILING_IDS + 7)]
        s = mxg_ci.matrix_summary({"totals": {"counts": {}}, "results": results})
        self.assertEqual(s["failing_total"], mxg_ci.MAX_FAILING_IDS + 7)
        self.assertEqual(len(s["failing"]), mxg_ci.MAX_FAILING_IDS)

    def test_threshold_reads_the_config(self):
        config = HERE / "probe-thresholds.json"
        data = json.loads(config.read_text())["models"]
        for model, entry in data.items():
            done = self.ci("threshold", "--config", str(config), "--model", model)
            self.assertEqual(float(done.stdout), entry["min_accuracy"])
        self.assertEqual(float(self.ci("threshold", "--config", str(config), "--model", "openai/gpt-oss-120b",
                                       "--field", "sprt.p_bad").stdout), data["openai/gpt-oss-120b"]["sprt"]["p_bad"])
        missing = self.ci("threshold", "--config", str(config), "--model", "openai/gpt-oss-20b", "--field", "sprt.p_good")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("sprt.p_good is not set", missing.stderr)

    def test_find_baseline_without_api_access_runs_unpaired(self):
        self.env["GITHUB_API_URL"] = "http://127.0.0.1:9"  # discard port: nothing answers
        done = self.ci("find-baseline", "--repo", "o/r", "--workflow", "w.yml", "--branch", "main", "--artifact", "a")
        self.assertEqual(done.returncode, 0)
        self.assertEqual(done.stdout, "")
        self.assertIn("run_id=\n", (self.tmp / "output").read_text())

    @unittest.skipUnless(MXGUARD, "MXGUARD not set")
    def test_probe_against_a_collapsed_standin_is_a_regression_and_no_server_is_infrastructure(self):
        data = self.tmp / "q.jsonl"
        subprocess.run([MXGUARD, "standin", "--make-data", "60", "--out", str(data)], check=True, capture_output=True)
        server = subprocess.Popen([MXGUARD, "standin", "--data", str(data), "--port", "0", "--accuracy", "0.21",
                                   "--threads", "16"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(server.stdout.close)
        self.addCleanup(server.wait)
        self.addCleanup(server.terminate)
        url = server.stdout.readline().split("listening on ")[1].split()[0]
        probe = [MXGUARD, "probe", "--data", str(data), "--num-questions", "40", "--parallel", "8", "--quiet",
                 "--min-accuracy", "0.79", "--retries", "0"]
        done = self.ci("run", "--name", "collapsed", "--results", str(self.results),
                       "--report", str(self.tmp / "p" / "probe.json"), "--",
                       *probe, "--base-url", url, "--out", str(self.tmp / "p"))
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("::error title=Regression (collapsed)", done.stdout)
        down = self.ci("run", "--name", "down", "--results", str(self.results), "--",
                       *probe, "--base-url", "http://127.0.0.1:9", "--out", str(self.tmp / "q"))
        self.assertEqual(down.returncode, 3, down.stdout + down.stderr)
        self.assertIn("::warning title=Infrastructure (down)", down.stdout)
        records = [json.loads(line) for line in self.results.read_text().splitlines()]
        self.assertNotEqual(records[0]["summary"]["verdict"], "PASS")
        self.assertLess(records[0]["summary"]["accuracy"], 0.79)


if __name__ == "__main__":
    unittest.main()
