"""Hostile servers, signals, concurrency on --out, kill/resume and exit codes, end to end."""
import fcntl
import json
import os
import signal
import subprocess
import time

from hostile_util import (MXGUARD, HostileCase, HostileServer, Standin, answer, deep_json, free_port, run)


def probe_args(url, data, out, *extra):
    return ["probe", "--base-url", url, "--data", data, "--num-shots", "0", "--out", out, "--quiet", *extra]


class Signals(HostileCase):
    def _wait_ready_then(self, sig, extra=()):
        data = self.data_file()
        port = free_port()  # nothing listens: the server "never becomes ready"
        p = subprocess.Popen([MXGUARD, *probe_args(f"http://127.0.0.1:{port}", data, self.path("o"),
                                                    "--wait-ready", "1e9", *extra)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        start = time.monotonic()
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail(f"signal {sig} ignored during --wait-ready (H4)")
        self.assertLess(time.monotonic() - start, 10)
        self.last_stderr = err
        return p.returncode

    def test_sigterm_and_sigint_end_wait_ready_as_interrupted(self):
        self.assertEqual(self._wait_ready_then(signal.SIGTERM), 130, self.last_stderr[-400:])
        self.assertEqual(self._wait_ready_then(signal.SIGINT), 130, self.last_stderr[-400:])

    def test_bisect_interrupted_aborts(self):
        self.assertEqual(self._wait_ready_then(signal.SIGTERM, ["--bisect"]), 129)


class HostileServers(HostileCase):
    def test_retry_after_cannot_stall_past_timeout(self):
        def respond(h):
            if h.path == "/get_model_info":
                answer(h, 200, '{"model_path": "m"}')
            elif h.command == "GET":
                answer(h, 404, "{}")
            else:
                answer(h, 503, "{}", [("Retry-After", "9" * 40)])
        data = self.data_file()
        with HostileServer(respond) as srv:
            r = run(probe_args(srv.url, data, self.path("o"), "--num-questions", "2", "--timeout", "2",
                               "--retries", "2", "--no-warmup"), timeout=120)
        self.assertEqual(r.returncode, 3, r.stderr[-500:])
        self.assertLess(r.seconds, 40)  # 2 questions x 2 retries x <= 2 s, not 120 s each (H7)

    def test_deep_json_replies_are_infrastructure_errors(self):
        for status in (200, 500):
            def respond(h, status=status):
                answer(h, status, deep_json())
            with self.subTest(status=status), HostileServer(respond) as srv:
                r = run(probe_args(srv.url, self.data_file(), self.path(f"o{status}"), "--num-questions", "2",
                                   "--retries", "0"), timeout=60)
                self.assertEqual(r.returncode, 3, r.stderr[-500:])


class Concurrency(HostileCase):
    def _hold_lock(self, out):
        os.makedirs(out, exist_ok=True)
        fd = os.open(os.path.join(out, ".mxguard.lock"), os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def test_second_run_on_the_same_out_is_refused(self):
        out = self.path("o")
        fd = self._hold_lock(out)
        try:
            data = self.data_file()
            r = run(probe_args("http://127.0.0.1:9", data, out))
            self.assert_input_error(r, "--out", f"pid {os.getpid()}")
            from test_matrix_runs import case
            cases = self.write("c.json", json.dumps(case("hostile-lock", [1])))
            r = run(["matrix", "--cases", cases, "--out", out])
            self.assert_input_error(r, "--out", f"pid {os.getpid()}")
        finally:
            os.close(fd)

    def test_concurrent_probes_do_not_duplicate_questions(self):
        data = self.data_file(30)
        out = self.path("o")
        with Standin("--data", data, "--latency-ms", "1500") as s:
            procs = [subprocess.Popen([MXGUARD, *probe_args(s.url, data, out, "--num-questions", "20")],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
            codes = sorted(p.communicate(timeout=120) and p.returncode for p in procs)
        self.assertIn(2, codes)  # one of them was refused
        with open(os.path.join(out, "probe.jsonl")) as f:
            indices = [json.loads(line)["index"] for line in f if line.strip()]
        self.assertEqual(len(indices), len(set(indices)))


class KillResume(HostileCase):
    def test_torn_probe_log_is_repaired_on_resume(self):
        data = self.data_file()
        out = self.path("o")
        with Standin("--data", data) as s:
            r = run(probe_args(s.url, data, out, "--num-questions", "6"))
            self.assertIn(r.returncode, (0, 1), r.stderr[-500:])
            log = os.path.join(out, "probe.jsonl")
            with open(log) as f:
                lines = f.read().splitlines()
            # Keep 3 records and a torn fourth (a crash mid-write), then resume twice.
            with open(log, "w") as f:
                f.write("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
            for _ in range(2):
                r = run(probe_args(s.url, data, out, "--num-questions", "6", "--resume"))
                self.assertIn(r.returncode, (0, 1), r.stderr[-500:])
        with open(log) as f:
            records = [json.loads(line) for line in f if line.strip()]  # every line parses
        self.assertEqual(sorted({r["index"] for r in records}), list(range(6)))
        r = run(probe_args("http://127.0.0.1:9", data, self.path("o2"), "--baseline", log, "--num-questions", "1"))
        self.assertNotEqual(r.returncode, 2, r.stderr[-300:])


class ExitCodes(HostileCase):
    def test_bisect_non_verdicts_are_129(self):
        data = self.data_file()
        self.assertEqual(run(["probe", "--bisect", "--no-such-flag"]).returncode, 129)
        r = run(probe_args("http://[::1", data, self.path("o"), "--bisect", "--wait-ready", "5"))
        self.assertEqual(r.returncode, 129, r.stderr[-300:])

    def test_cli_errors_are_one_line(self):
        r = run(["matrix", "--jobs", "x"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_bad_step_summary_keeps_the_verdict(self):
        data = self.data_file()
        with Standin("--data", data, "--accuracy", "1") as s:
            plain = run(probe_args(s.url, data, self.path("a"), "--num-questions", "3"))
            bad = run(probe_args(s.url, data, self.path("b"), "--num-questions", "3"),
                      env={"GITHUB_STEP_SUMMARY": self.dir})  # a directory
        self.assertEqual(bad.returncode, plain.returncode, bad.stderr[-300:])
        self.assertIn("GITHUB_STEP_SUMMARY", bad.stderr)

    def test_outputs_never_replace_a_symlink(self):
        target = self.write("target.txt", "keep")
        link = self.path("link.jsonl")
        os.symlink(target, link)
        r = run(["standin", "--make-data", "3", "--out", link])
        self.assert_input_error(r, "link.jsonl")
        with open(target) as f:
            self.assertEqual(f.read(), "keep")
