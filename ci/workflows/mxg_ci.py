#!/usr/bin/env python3
"""GitHub Actions glue for mxguard: run a gated command, read probe thresholds, decide the job, keep history.

Subcommands (standard library only, so it runs in any ROCm/SGLang image):
  run       run one mxguard command; map its exit code to a result and an annotation
  threshold print one field of a model's entry in probe-thresholds.json
  verdict   decide the job from every recorded result and write the step summary
  history   append one JSON line describing this run to a history file
  find-baseline  the newest nightly run on a branch that still holds a probe artifact (pre-merge baseline)
Why a separate result per step: mxguard exits 1 for a regression and 3 for an infrastructure
failure, and GitHub shows both as a red step; the annotation title, the summary and the history keep
them apart, and `verdict` applies the repository's policy for infrastructure failures.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# mxguard's exit codes (README "Exit codes everywhere") and what CI calls them.
RESULT_OF_EXIT = {0: "pass", 1: "regression", 2: "input-error", 3: "infrastructure", 130: "interrupted"}
# Any other status (a crash signal, 127 command not found) is not the served model's fault.
OTHER_EXIT_RESULT = "infrastructure"


def result_of_exit(rc: int) -> str:
    return RESULT_OF_EXIT.get(rc, OTHER_EXIT_RESULT)


def annotation(result: str, name: str, rc: int) -> str | None:
    """The workflow command that marks a result in the run's annotations (None for a pass)."""
    if result == "pass":
        return None
    if result == "regression":
        return f"::error title=Regression ({name})::{name}: mxguard found a regression (exit 1); see the step summary and the report artifact"
    if result == "input-error":
        return f"::error title=Input error ({name})::{name}: mxguard rejected its input (exit 2); the workflow or its configuration is wrong"
    if result == "interrupted":
        return f"::warning title=Interrupted ({name})::{name}: cancelled (exit {rc}); a partial report was written"
    return f"::warning title=Infrastructure ({name})::{name}: infrastructure failure (exit {rc}), not a regression: the server, GPU, network or build did not cooperate"


def append_line(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def set_output(**values: str) -> None:
    """Step outputs, readable as steps.<id>.outputs.<key> (ignored outside Actions)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as f:
        for key, value in values.items():
            f.write(f"{key}={value}\n")


# Failing combinations a matrix step records by id, so that `mxguard report --history` can list what is new
# or fixed since the night before; a night with more keeps the first ones and says how many there were.
MAX_FAILING_IDS = 500


def matrix_summary(data: dict, results=None) -> dict:
    """The numbers of a matrix run worth keeping: its totals (counts, margin, mutation score), wall time, the
    versions it ran (mxguard, kernel and stack libraries, image digest) and the ids of its FAIL, BLIND and
    ERROR results (reports/REPORT_SCHEMA.md). `data` is report.json or its header run.json; `results`
    iterates the result records (default: data["results"])."""
    totals = data.get("totals") if isinstance(data.get("totals"), dict) else {}
    out = {k: totals[k] for k in ("counts", "margin", "largest_pass_nmse", "smallest_caught_nmse", "mutants_killed",
                                  "mutants_total", "exit_code") if k in totals}
    for k in ("wall_seconds", "interrupted", "backend", "tool_version"):
        if k in data:
            out[k] = data[k]
    if isinstance(data.get("versions"), dict):
        out["versions"] = {str(k): str(v) for k, v in data["versions"].items()}
    if isinstance(data.get("shard"), dict):
        out["shard"] = data["shard"]
    failing, failing_total = [], 0
    for r in (data.get("results", []) if results is None else results):
        if isinstance(r, dict) and not r.get("mutant") and r.get("verdict") in ("FAIL", "BLIND", "ERROR"):
            failing_total += 1
            if len(failing) < MAX_FAILING_IDS:
                failing.append({"id": r.get("id"), "verdict": r.get("verdict")})
    out["failing_total"] = failing_total
    out["failing"] = failing
    return out


def stream_results_log(folder: Path):
    """Result records of a run folder's results log (results.jsonl, or results.jsonl.gz once the run closed
    it), one line at a time: a nightly log holds hundreds of thousands of them."""
    for name in ("results.jsonl", "results.jsonl.gz"):
        path = folder / name
        if not path.exists():
            continue
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a torn last line of an interrupted run
        return


def report_summary(report: Path) -> dict:
    """The few numbers of a probe.json or report.json worth keeping in the history. A matrix report is read
    through its small header (run.json beside it) and its streamed results log, never whole."""
    header = report.parent / "run.json"
    if report.name in ("report.json", "run.json") and header.exists():
        try:
            data = json.loads(header.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("totals"), dict):
            return matrix_summary(data, stream_results_log(report.parent))
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    if isinstance(data.get("totals"), dict):  # a matrix report.json (older, without run.json) keeps counts under totals
        return matrix_summary(data)
    keep = ("verdict", "accuracy", "answered", "errors", "min_accuracy", "stop_rule", "stop_reason",
            "exit_code", "wall_s")
    out = {k: data[k] for k in keep if k in data}
    if isinstance(data.get("wilson95"), list):
        out["wilson95"] = data["wilson95"]
    if isinstance(data.get("paired"), dict):
        out["paired"] = data["paired"]
    if isinstance(data.get("server"), dict) and isinstance(data["server"].get("model"), str):
        out["model"] = data["server"]["model"]
    return out


def cmd_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("mxg_ci.py run: no command after --", file=sys.stderr)
        return 2
    started = time.time()
    stdout = open(args.stdout, "w", encoding="utf-8") if args.stdout else None
    try:
        child = subprocess.Popen(command, stdout=stdout)
    except OSError as e:  # not found / not executable: the harness is missing, not a regression
        print(f"mxg_ci.py run: cannot start {command[0]}: {e}", file=sys.stderr)
        rc = 127
    else:
        # A watchdog or a cancelled run stops us with SIGTERM/SIGINT: pass it on and still record the result.
        def forward(signum, _frame):
            child.send_signal(signum)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        rc = child.wait()
    if stdout:
        stdout.close()
    if rc < 0:  # killed by a signal: report it the way a shell would
        rc = 128 - rc
    result = result_of_exit(rc)
    record = {"name": args.name, "result": result, "exit_code": rc, "seconds": round(time.time() - started, 1),
              "command": command}
    labels = {"job": os.environ["MXG_CI_JOB"]} if os.environ.get("MXG_CI_JOB") else {}
    for key_value in args.label:
        key, _, value = key_value.partition("=")
        labels[key] = value
    if labels:
        record["labels"] = labels
    if args.report:
        record["report"] = args.report
        record.update({"summary": report_summary(Path(args.report))})
    append_line(Path(args.results), record)
    line = annotation(result, args.name, rc)
    if line:
        print(line)
    set_output(result=result, exit_code=str(rc))
    return rc


def cmd_threshold(args: argparse.Namespace) -> int:
    try:
        config = json.loads(Path(args.config).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"mxg_ci.py threshold: {args.config}: {e}", file=sys.stderr)
        return 2
    models = config.get("models", {})
    if args.model not in models:
        print(f"mxg_ci.py threshold: {args.config}: no entry models.{args.model!r} (known: {', '.join(sorted(models))})",
              file=sys.stderr)
        return 2
    value = models[args.model]
    for part in args.field.split("."):
        if not isinstance(value, dict) or part not in value:
            print(f"mxg_ci.py threshold: {args.config}: models.{args.model}.{args.field} is not set", file=sys.stderr)
            return 2
        value = value[part]
    print(json.dumps(value) if isinstance(value, (dict, list)) else value)
    return 0


def read_results(paths: list[str]) -> list[dict]:
    records = []
    for p in paths:
        path = Path(p)
        files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
        for f in files:
            if not f.exists():
                continue
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        records.append({"name": f"{f}:{n}", "result": "infrastructure", "exit_code": -1,
                                        "note": "unreadable result line"})
    return records


def overall(records: list[dict]) -> str:
    """regression beats input-error beats infrastructure beats interrupted beats pass; nothing ran = infrastructure."""
    if not records:
        return "infrastructure"
    for result in ("regression", "input-error", "infrastructure", "interrupted"):
        if any(r.get("result") == result for r in records):
            return result
    return "pass"


def add_failed_jobs(records: list[dict], jobs: list[str]) -> None:
    """A job that failed or was cancelled without recording any result failed outside mxguard (checkout,
    build, artifact download, runner lost): that is infrastructure, never a regression."""
    for job_result in jobs:
        job, _, result = job_result.partition("=")
        recorded = any(r.get("labels", {}).get("job") == job for r in records)
        if result in ("failure", "cancelled") and not recorded:
            records.append({"name": f"job {job}", "result": "infrastructure", "exit_code": "",
                            "labels": {"job": job}, "note": f"job {result} before any mxguard step recorded a result"})


def cmd_verdict(args: argparse.Namespace) -> int:
    records = read_results(args.results)
    add_failed_jobs(records, args.job)
    verdict = overall(records)
    lines = [f"### mxguard: {args.title} — {verdict.upper()}", "", "| step | result | exit | seconds |",
             "|---|---|---:|---:|"]
    for r in records:
        lines.append(f"| {r.get('name', '?')} | {r.get('result', '?')} | {r.get('exit_code', '?')} | {r.get('seconds', '')} |")
    if not records:
        lines.append("| (no mxguard step recorded a result: the job failed before running one) | infrastructure | | |")
    for note in args.note:
        lines.append("")
        lines.append(note)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    set_output(verdict=verdict)
    if verdict == "pass":
        return 0
    if verdict == "infrastructure" and not args.infra_fails_job:
        print(f"::warning title=Infrastructure ({args.title})::nothing regressed, but the run was incomplete; "
              "the job passes because infrastructure failures are configured not to fail it")
        return 0
    if verdict == "infrastructure":
        print(f"::error title=Infrastructure ({args.title})::the run was incomplete for infrastructure reasons "
              "(no regression found); set MXGUARD_INFRA_FAILS_JOB=false to let such runs pass with a warning")
        return 3
    if verdict == "regression":
        print(f"::error title=Regression ({args.title})::at least one mxguard step found a regression")
        return 1
    return 2 if verdict == "input-error" else 130


def night_versions(records: list[dict]) -> dict:
    """Every version the night's matrix steps recorded, library -> version; a library two steps report
    differently (hip build vs AITER image) keeps each value once, joined by " | "."""
    versions: dict[str, str] = {}
    for r in records:
        summary = r.get("summary") if isinstance(r.get("summary"), dict) else {}
        for name, version in (summary.get("versions") or {}).items():
            seen = versions.get(name)
            if seen is None:
                versions[name] = version
            elif version not in seen.split(" | "):
                versions[name] = f"{seen} | {version}"
    return versions


def cmd_history(args: argparse.Namespace) -> int:
    records = read_results(args.results)
    add_failed_jobs(records, args.job)
    entry = {
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verdict": overall(records),
        "results": [{k: r[k] for k in ("name", "result", "exit_code", "seconds", "labels", "summary") if k in r}
                    for r in records],
    }
    versions = night_versions(records)
    if versions:
        entry["versions"] = versions
    for key_value in args.field:
        key, _, value = key_value.partition("=")
        entry[key] = value
    append_line(Path(args.history), entry)
    print(f"mxg_ci.py history: appended {entry['verdict']} ({len(records)} results) to {args.history}")
    return 0


def cmd_find_baseline(args: argparse.Namespace) -> int:
    """Print the id of the newest completed run of the nightly workflow on a branch that still holds an
    artifact with the given name; print nothing (exit 0) when there is none, so the probe runs unpaired."""
    token = os.environ.get(args.token_env, "")
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com")

    def get(path: str, **query) -> dict:
        url = f"{api}/repos/{args.repo}/{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={"Accept": "application/vnd.github+json",
                                                       **({"Authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    try:
        runs = get(f"actions/workflows/{args.workflow}/runs", branch=args.branch, status="completed",
                   per_page=str(args.max_runs))["workflow_runs"]
        for run in runs:
            artifacts = get(f"actions/runs/{run['id']}/artifacts", name=args.artifact)["artifacts"]
            if any(not a.get("expired", False) for a in artifacts):
                print(run["id"])
                set_output(run_id=str(run["id"]), run_url=run.get("html_url", ""))
                return 0
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
        print(f"::warning title=No baseline::cannot query {args.workflow} runs on {args.branch}: {e}", file=sys.stderr)
        set_output(run_id="")
        return 0
    print(f"::notice title=No baseline::no completed {args.workflow} run on {args.branch} has artifact {args.artifact}",
          file=sys.stderr)
    set_output(run_id="")
    return 0


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", ""):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mxg_ci.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser("run", help="run a command, record and annotate its result, exit with its status")
    run.add_argument("--name", required=True, help="step name shown in annotations and the summary")
    run.add_argument("--results", default=os.environ.get("MXG_CI_RESULTS", "ci-results/results.jsonl"),
                     help="JSON Lines file the result is appended to (default: $MXG_CI_RESULTS)")
    run.add_argument("--report", help="probe.json or report.json whose key numbers go into the record")
    run.add_argument("--stdout", help="write the command's standard output to this file")
    run.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="extra field (repeatable)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    run.set_defaults(func=cmd_run)

    thr = sub.add_parser("threshold", help="print one field of a model's entry in the thresholds file")
    thr.add_argument("--config", required=True)
    thr.add_argument("--model", required=True)
    thr.add_argument("--field", default="min_accuracy", help="dotted path inside the model's entry")
    thr.set_defaults(func=cmd_threshold)

    ver = sub.add_parser("verdict", help="decide the job from the recorded results; write the step summary")
    ver.add_argument("--results", nargs="+", default=[os.environ.get("MXG_CI_RESULTS", "ci-results/results.jsonl")])
    ver.add_argument("--title", default="mxguard")
    ver.add_argument("--infra-fails-job", type=parse_bool, default=True)
    ver.add_argument("--job", action="append", default=[], metavar="JOB=RESULT",
                     help="needs.<job>.result; a failed job that recorded nothing counts as infrastructure")
    ver.add_argument("--note", action="append", default=[], help="a line added under the table (repeatable)")
    ver.set_defaults(func=cmd_verdict)

    his = sub.add_parser("history", help="append one line for this run to a history file")
    his.add_argument("--results", nargs="+", required=True, help="result files or folders of them")
    his.add_argument("--history", required=True)
    his.add_argument("--job", action="append", default=[], metavar="JOB=RESULT", help="as for verdict")
    his.add_argument("--field", action="append", default=[], metavar="KEY=VALUE", help="run metadata (repeatable)")
    his.set_defaults(func=cmd_history)

    base = sub.add_parser("find-baseline", help="newest nightly run on a branch that holds a given artifact")
    base.add_argument("--repo", default=os.environ.get("GITHUB_REPOSITORY", ""), help="owner/name")
    base.add_argument("--workflow", required=True, help="workflow file name, e.g. mxguard-nightly.yml")
    base.add_argument("--branch", required=True)
    base.add_argument("--artifact", required=True)
    base.add_argument("--max-runs", type=int, default=20)
    base.add_argument("--token-env", default="GH_TOKEN", help="environment variable holding the token")
    base.set_defaults(func=cmd_find_baseline)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
