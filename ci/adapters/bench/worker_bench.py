#!/usr/bin/env python3
# Benchmark: matrix combinations per second through a Python adapter, protocol v1 (a process per combination) vs v2 (a persistent worker).
"""Combinations per second of `mxguard matrix --backend external` with the Python host adapter
(ci/adapters/host_adapter.py), external protocol v1 (`--kernel-cmd`, a Python process per combination)
against v2 (`--kernel-worker`, one persistent worker per job), side by side on the same machine, in
alternating rounds. For context it also times the host backend in process, isolated through mxguard's
own persistent worker (`--isolate`, what `--backend hip` does) and through a `mxguard kernel run` per
combination (what isolation did before workers).

With `--set gpu` (a machine with a GPU build: `--mxguard build/cuda/harness/mxguard`) it compares the
GPU backend the same way: `--backend hip` (a persistent `kernel worker` per job, one GPU context each)
against a `mxguard kernel run --backend hip` process per combination (a GPU context per combination).

Each timing is the whole `mxguard matrix` process, start to exit (worker start-up included), over the
same selection of combinations; combinations/s = combinations / wall seconds.

  python3 ci/adapters/bench/worker_bench.py [--mxguard build/default/harness/mxguard] [--rounds 3] [--set external|gpu]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

SOURCE = pathlib.Path(__file__).resolve().parents[3]


def per_process(mxguard: str, backend: str) -> list[str]:
    """The backend behind protocol v1: a `mxguard kernel run` process for every combination."""
    return ["--backend", "external", "--kernel-cmd",
            f"{shlex.quote(mxguard)} kernel run --backend {backend} --in {{in}} --out {{out}}"]


def modes(mxguard: str, python: str, which: str) -> dict[str, list[str]]:
    """The modes to time, in order; the first two are the pair whose ratio is reported."""
    if which == "gpu":
        return {
            "hip: a mxguard kernel run process per combination": per_process(mxguard, "hip"),
            "hip: persistent kernel worker per job (--backend hip)": ["--backend", "hip"],
        }
    adapter = shlex.quote(str(SOURCE / "ci/adapters/host_adapter.py"))
    py = shlex.quote(python)
    return {
        "v1: Python adapter, a process per combination (--kernel-cmd)":
            ["--backend", "external", "--kernel-cmd", f"{py} {adapter} {{in}} {{out}}"],
        "v2: Python adapter, persistent worker (--kernel-worker)":
            ["--backend", "external", "--kernel-worker", f"{py} {adapter} --worker"],
        "host in process": ["--backend", "host"],
        "host isolated: mxguard kernel worker (--isolate)": ["--backend", "host", "--isolate"],
        "host isolated: a mxguard kernel run per combination": per_process(mxguard, "host"),
    }


def run_once(mxguard: str, extra: list[str], selection: list[str], jobs: int, work: pathlib.Path) -> tuple[int, float]:
    out = work / f"out-{time.monotonic_ns()}"
    argv = [mxguard, "matrix", *selection, "--jobs", str(jobs), "--out", str(out), *extra]
    start = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "MXGUARD": mxguard})
    wall = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"worker_bench: exit {r.returncode}: {shlex.join(argv)}\n{r.stderr[-2000:]}")
    counts = json.loads((out / "report.json").read_text())["totals"]["counts"]
    if counts["ERROR"]:
        sys.exit(f"worker_bench: {counts['ERROR']} ERROR results: {shlex.join(argv)}")
    return sum(counts.values()), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mxguard", default=os.environ.get("MXGUARD", str(SOURCE / "build/default/harness/mxguard")))
    parser.add_argument("--python", default=sys.executable, help="interpreter for the adapter (default: this one)")
    parser.add_argument("--cases", default=str(SOURCE / "cases/default/small-decode.json"))
    parser.add_argument("--filter", default="*small-tp1-r0/T=1/route=uniform/*",
                        help="the combinations every mode runs (default: one instance, 144 combinations)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", dest="which", choices=["external", "gpu"], default="external",
                        help="external: Python adapter v1 vs v2 (and host modes); gpu: hip per process vs persistent")
    args = parser.parse_args()

    selection = ["--cases", args.cases, "--filter", args.filter]
    results: dict[str, list[tuple[int, float]]] = {name: [] for name in modes(args.mxguard, args.python, args.which)}
    with tempfile.TemporaryDirectory(prefix="mxg-worker-bench-") as work:
        for round_index in range(args.rounds):
            for name, extra in modes(args.mxguard, args.python, args.which).items():
                combos, wall = run_once(args.mxguard, extra, selection, args.jobs, pathlib.Path(work))
                results[name].append((combos, wall))
                print(f"round {round_index + 1}: {name}: {combos} combinations in {wall:.2f} s = {combos / wall:.1f}/s",
                      file=sys.stderr, flush=True)

    def rates(name: str) -> list[float]:
        return [c / w for c, w in results[name]]

    v1, v2 = list(results)[:2]  # the slow mode first, the fast one second
    print(f"\n{results[v1][0][0]} combinations ({args.filter} of {os.path.relpath(args.cases, SOURCE)}), "
          f"--jobs {args.jobs}, {args.rounds} rounds; median and range of combinations/s:\n")
    print("| mode | combinations/s (median) | range | wall s (median) |")
    print("|---|---:|---:|---:|")
    for name in results:
        r = rates(name)
        print(f"| {name} | {statistics.median(r):.1f} | {min(r):.1f}–{max(r):.1f} | "
              f"{statistics.median(w for _, w in results[name]):.2f} |")
    ratios = [b / a for a, b in zip(rates(v1), rates(v2))]
    print(f"\n{'persistent / per process' if args.which == 'gpu' else 'v2 / v1'}, same round: median {statistics.median(ratios):.0f}x (range {min(ratios):.0f}–{max(ratios):.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
