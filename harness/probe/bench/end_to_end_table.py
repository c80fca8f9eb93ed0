#!/usr/bin/env python3
"""The README's end-to-end table: the collapse SPRT and the default gate run by the real binaries
against `mxguard standin`, healthy and broken, next to their exact expectations.

Run i (0 <= i < RUNS) starts a stand-in with `--seed i` (which questions it answers right: a fresh
draw of the question set's truth per run, as the exact model assumes) and runs the probe with
`--seed i` (the question order). Everything else is fixed, so the table reproduces exactly:

    /usr/bin/python3 harness/probe/bench/end_to_end_table.py [--mxguard PATH] [--runs 100]

Columns: mean questions to the verdict and how many runs failed, measured; then the exact figures of
`mxguard probe simulate` for the same rule (its Bernoulli model; the measured means carry sampling
noise of a few percent at 100 runs).
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCURACIES = (0.88, 0.79, 0.21, 0.04)
QUESTIONS = 400  # the data file: the gate's default question set; the SPRT reads the first 200


def start_standin(mxguard, data, accuracy, seed, work):
    out = open(work / "standin.out", "w")
    proc = subprocess.Popen([mxguard, "standin", "--port", "0", "--data", str(data), "--accuracy", str(accuracy),
                             "--seed", str(seed), "--threads", "32"], stdout=out, stderr=subprocess.DEVNULL)
    for _ in range(300):
        m = re.search(r"listening on (http://[0-9.]+:\d+)", (work / "standin.out").read_text())
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    sys.exit("end_to_end_table.py: the stand-in did not start")


def probe(mxguard, url, data, seed, out, rule_args):
    argv = [mxguard, "probe", "--base-url", url, "--data", str(data), "--seed", str(seed), "--out", str(out),
            "--quiet", "--retry-delay", "0.01", *rule_args]
    rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if rc.returncode not in (0, 1):
        sys.exit(f"end_to_end_table.py: {' '.join(argv)} exited {rc.returncode}: {rc.stderr[-500:]}")
    summary = json.loads((out / "probe.json").read_text())
    block = summary["sprt"] if summary["stop_rule"] == "sprt" else summary["gate"]
    # The verdict and its exit code must agree with the summary's own numbers.
    assert (rc.returncode == 1) == (summary["verdict"] == "REGRESSION"), summary["verdict"]
    return block["observations"], summary["verdict"] == "REGRESSION"


def exact(mxguard, rule_args, accuracy):
    out = subprocess.run([mxguard, "probe", "simulate", *rule_args, "--p-true", str(accuracy), "--runs", "1"],
                         check=True, capture_output=True, text=True).stdout
    row = [line.split() for line in out.splitlines() if line.strip().startswith(f"{accuracy:.3f}")][0]
    return row


RULES = {
    # name: (probe arguments, simulate arguments, column of E[questions], column of P(fail))
    "sprt": (["--stop", "sprt", "--parallel", "1", "--num-questions", "200"], ["--stop", "sprt"], 1, 6),
    "gate": (["--stop", "gate", "--parallel", "8"], ["--stop", "gate"], 2, 1),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mxguard", default="build/default/harness/mxguard")
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "data.jsonl"
        subprocess.run([args.mxguard, "standin", "--make-data", str(QUESTIONS), "--seed", "1", "--out", str(data)],
                       check=True)
        results = {}
        for accuracy in ACCURACIES:
            for name in RULES:
                results[(accuracy, name)] = []
            for i in range(args.runs):
                proc, url = start_standin(args.mxguard, data, accuracy, i, work)
                try:
                    for name, (rule, _, _, _) in RULES.items():
                        results[(accuracy, name)].append(probe(args.mxguard, url, data, i, work / f"out-{name}", rule))
                finally:
                    proc.terminate()
                    proc.wait()
        print(f"| stand-in --accuracy | rule | mean questions (measured) | failed (measured, of {args.runs}) "
              "| E[questions] (exact) | P(fail) (exact) |")
        print("|---:|---|---:|---:|---:|---:|")
        for accuracy in ACCURACIES:
            for name, (_, sim_args, e_col, p_col) in RULES.items():
                runs = results[(accuracy, name)]
                mean_q = sum(q for q, _ in runs) / len(runs)
                failed = sum(f for _, f in runs)
                row = exact(args.mxguard, sim_args, accuracy)
                print(f"| {accuracy} | {name} | {mean_q:.2f} | {failed} | {float(row[e_col]):.2f} | "
                      f"{float(row[p_col]):.4f} |")


if __name__ == "__main__":
    main()
