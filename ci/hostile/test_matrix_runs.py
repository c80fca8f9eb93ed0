"""The matrix's --resume accounting and --out handling end to end, on a one-shape case of the
host backend: a log written with other --cases, duplicated lines and a repeated --seed must not
change the totals; a case too large for memory is refused before anything is allocated."""
import gzip
import json
import os

from hostile_util import HostileCase, run

SOURCE = os.environ.get("MXG_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))


def case(name, tokens, hidden=64, intermediate=64, experts=4):
    return {
        "name": name, "tier": "quick", "comment": "hostile-suite case",
        "shapes": [{"name": "s", "hidden": hidden, "intermediate": intermediate, "experts": experts, "topk": 2,
                    "tp": 1, "ranks": [0]}],
        "tokens": tokens, "routing": ["uniform"], "inputs": ["normal"], "seeds": [0],
        "tolerance": {"nmse": 1e-4, "max_rel": 0.45, "cosine": 0.9999, "note": "hostile suite"},
    }


class MatrixResume(HostileCase):
    def _case_file(self, name, body):
        return self.write(name + ".json", json.dumps(body))

    def _totals(self, out):
        with open(os.path.join(out, "report.json")) as f:
            doc = json.load(f)
        return {"total": sum(doc["totals"]["counts"].values()), "results": len(doc["results"])}

    def test_resume_counts_only_this_runs_combinations_once(self):
        a = self._case_file("a", case("hostile-a", [1]))
        b = self._case_file("b", case("hostile-b", [2]))
        out = self.path("out")
        r = run(["matrix", "--cases", a, "--out", out, "--jobs", "2"], timeout=300)
        self.assertIn(r.returncode, (0, 1), r.stderr[-500:])
        whole = self._totals(out)
        # The same log resumed with another case file added, every line duplicated, --seed repeated.
        # A closed run's log is results.jsonl.gz; a plain results.jsonl beside it is the newer one.
        with gzip.open(os.path.join(out, "results.jsonl.gz"), "rt") as f:
            lines = f.read()
        with open(os.path.join(out, "results.jsonl"), "w") as f:
            f.write(lines + lines)
        r = run(["matrix", "--cases", a, "--out", out, "--resume", "--seed", "0", "--seed", "0"], timeout=300)
        self.assertIn(r.returncode, (0, 1), r.stderr[-500:])
        self.assertEqual(self._totals(out), whole)
        r = run(["matrix", "--cases", b, "--out", out, "--resume"], timeout=300)
        self.assertIn(r.returncode, (0, 1), r.stderr[-500:])
        self.assertEqual(self._totals(out), whole)  # b has as many combinations as a, not a + b

    def test_case_beyond_memory_is_refused_by_estimate(self):
        big = self._case_file("big", case("hostile-big", [1], hidden=65536, intermediate=65536, experts=1024))
        r = run(["matrix", "--cases", big, "--out", self.path("o"), "--max-memory", "1024"], timeout=60)
        self.assert_input_error(r, "hostile-big", "--max-memory", "hidden 65536")
        self.assertLess(r.seconds, 30)

    def test_out_that_is_a_file_names_the_option(self):
        a = self._case_file("a", case("hostile-a", [1]))
        f = self.write("a-file", "x")
        self.assert_input_error(run(["matrix", "--cases", a, "--out", f]), "--out")


class MatrixInterrupt(HostileCase):
    def test_ctrl_c_does_not_wait_for_a_running_external_command(self):
        """H8: SIGINT used to wait for the running external command up to --timeout."""
        import signal
        import subprocess
        import time
        from hostile_util import MXGUARD
        cases = self.write("a.json", json.dumps(case("hostile-int", [1])))
        p = subprocess.Popen([MXGUARD, "matrix", "--cases", cases, "--out", self.path("o"), "--backend", "external",
                              "--kernel-cmd", "sleep 300 # {in} {out}", "--timeout", "600", "--jobs", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("matrix still waiting for the external command 30 s after SIGINT")
        self.assertLess(time.monotonic() - start, 15)
        self.assertEqual(p.returncode, 130, err[-400:])
