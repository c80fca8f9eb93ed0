"""Shared plumbing of the cross-check scripts: arguments, running mxguard, error metrics, the JSON summary."""
import argparse
import json
import subprocess
import sys


def argument_parser(doc):
    """The options every cross-check script takes (--mxguard, --work, --json); scripts add their own."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mxguard", required=True, help="path of the mxguard binary")
    p.add_argument("--work", required=True, help="scratch folder")
    p.add_argument("--json", help="write the summary here")
    return p


class ToolError(RuntimeError):
    """mxguard (or another tool) exited non-zero where it should not have: an infrastructure failure."""


def run(cmd):
    """Runs cmd, returns its stdout; a non-zero exit raises ToolError with both streams."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolError(f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def nmse(test, ref):
    """sum (test-ref)^2 / sum ref^2, in float64 (the definition `mxguard compare` prints)."""
    a, b = test.double(), ref.double()
    return float(((a - b) ** 2).sum() / max(float((b ** 2).sum()), 1e-300))


def max_rel(test, ref):
    """max |test-ref| / RMS(ref), in float64 (as `mxguard compare` defines max_rel)."""
    a, b = test.double(), ref.double()
    rms = float((b ** 2).mean().sqrt())
    return float((a - b).abs().max()) / max(rms, 1e-300)


def finish(script, results, json_path, extra=None):
    """Prints one JSON line per check and a verdict, writes the summary; returns the exit status."""
    for r in results:
        print(json.dumps(r))
    failed = [r for r in results if not r["ok"]]
    summary = {"script": script, "passed": len(results) - len(failed), "failed": len(failed), "results": results}
    summary.update(extra or {})
    if json_path:
        with open(json_path, "w") as f:
            json.dump(summary, f, indent=1)
    print(f"{script}: {len(results) - len(failed)} of {len(results)} checks pass", file=sys.stderr)
    if not results:
        return 1  # a cross-check that compared nothing proves nothing
    return 1 if failed else 0
