#!/usr/bin/env python3
"""Runs every mxguard command line the documentation shows, the way a new user would.

Where the commands come from: fenced code blocks and complete inline commands of every Markdown
file in the repository, the `mxguard` steps of ci/workflows/*.yml, the examples of `ci/bisect
--help`, and the "Examples:" footer of every `mxguard <command> --help`.

Each command meets the first RULE whose pattern matches it. A rule either makes the command
runnable on this machine -- with substitutions that are printed: the host adapter stands in for
AITER (no MI35x here), the host backend for hip, a local stand-in server for SGLang, outputs go to
a temporary directory, and a large matrix runs one `--shard` of itself -- and states which exit
codes are right, or says why the command cannot run here. A documented command that no rule
matches fails the test: a new command line in the docs must be run here too.

A matrix command must also finish with no ERROR in its report.json: the documented AITER command
line (`--backend external --isolate --kernel-cmd ...`) once turned every combination into an ERROR.

Environment: MXGUARD (the built binary), MXG_SOURCE (the repository root).
"""
import json
import math
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

SOURCE = Path(os.environ.get("MXG_SOURCE", Path(__file__).resolve().parents[2]))
MXGUARD = os.environ.get("MXGUARD", str(SOURCE / "build/default/harness/mxguard"))
MAX_COMBINATIONS = 40  # a documented matrix larger than this runs one --shard of about this size
SKIP_DIRS = {".git", "build", ".deps", "node_modules", "__pycache__"}

# --------------------------------------------------------------------------------------------
# Extraction


def markdown_files():
    for dirpath, dirnames, filenames in os.walk(SOURCE):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for f in sorted(filenames):
            if f.endswith(".md"):
                yield Path(dirpath) / f


def joined_lines(lines):
    """Lines with shell continuations (a trailing backslash) joined."""
    buf = ""
    for line in lines:
        line = line.rstrip()
        buf = f"{buf} {line.strip()}" if buf else line.strip()
        if buf.endswith("\\"):
            buf = buf[:-1].rstrip()
            continue
        yield buf
        buf = ""
    if buf:
        yield buf


MXGUARD_CALL = re.compile(r"(?:^|(?<=[\s'\"]))(?:[\w~./$-]*/)?mxguard (?=[a-z])")
ELISION = re.compile(r"…|\.\.\.|\[|<[A-Za-z]|\|")


def from_markdown(path):
    text = path.read_text(encoding="utf-8")
    fenced, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
            continue
        if inside:
            fenced.append(line)
    for line in joined_lines(fenced):
        if MXGUARD_CALL.search(line):
            yield line
    for span in re.findall(r"`([^`\n]+)`", text):
        if re.match(r"(?:[\w./-]*/)?mxguard [a-z]", span) and not ELISION.search(span):
            yield span


def from_workflow(path):
    for line in joined_lines(path.read_text(encoding="utf-8").splitlines()):
        if re.search(r"\bbin/mxguard [a-z]", line):
            yield line[line.index("bin/mxguard"):]


def from_help(args):
    out = subprocess.run(args, capture_output=True, text=True, cwd=SOURCE, timeout=60).stdout
    for line in joined_lines(out.splitlines()):
        if re.match(r"(?:[\w./~-]*/)?mxguard [a-z]", line) or "--check" in line or "git bisect run" in line:
            yield line


def mxguard_commands():
    out = subprocess.run([MXGUARD, "--help"], capture_output=True, text=True, timeout=60).stdout
    names = re.findall(r"^\s{2}([a-z][a-z-]+)\s", out.split("SUBCOMMANDS:")[-1], flags=re.M)
    return sorted(set(names))


def documented_commands():
    """(origin, command line) pairs, de-duplicated, comments and shell prompts stripped."""
    found = []
    for md in markdown_files():
        for line in from_markdown(md):
            found.append((str(md.relative_to(SOURCE)), line))
    for yml in sorted((SOURCE / "ci/workflows").glob("*.yml")):
        for line in from_workflow(yml):
            found.append((str(yml.relative_to(SOURCE)), line))
    for line in from_help([str(SOURCE / "ci/bisect"), "--help"]):
        found.append(("ci/bisect --help", line))
    for name in mxguard_commands():
        for line in from_help([MXGUARD, name, "--help"]):
            found.append((f"mxguard {name} --help", line))
    seen, result = set(), []
    for origin, line in found:
        line = strip_comment(line)
        if line and line not in seen:
            seen.add(line)
            result.append((origin, line))
    return result


def strip_comment(line):
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return line.strip()
    if not tokens:
        return ""
    # Keep the original quoting: cut the line where the comment starts.
    hash_at = [m.start() for m in re.finditer(r"\s#", line)]
    for pos in hash_at:
        try:
            if shlex.split(line[:pos]) == tokens:
                return line[:pos].strip()
        except ValueError:
            continue
    return line.strip()


# --------------------------------------------------------------------------------------------
# Making a documented command runnable here


class Env:
    """Shared fixtures: a work dir, a stand-in server, GSM8K-format data, a problem file."""

    def __init__(self, work):
        self.work = Path(work)
        self.port = None
        self.server = None
        self.data = self.work / "test.jsonl"
        self.problem = self.work / "problem.safetensors"
        self.host_adapter = f"MXGUARD={shlex.quote(MXGUARD)} {SOURCE}/ci/adapters/host_adapter.sh {{in}} {{out}}"
        self.cwd = self.work / "cwd"
        self.cwd.mkdir()
        for name in ("cases", "ci"):
            (self.cwd / name).symlink_to(SOURCE / name)

    def start_standin(self, extra=()):
        if self.server:
            return
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = subprocess.Popen([MXGUARD, "standin", "--port", str(self.port), *extra],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("the stand-in server did not start")

    def stop(self):
        if self.server:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None


def make_data(env):
    if not env.data.exists():
        run([MXGUARD, "standin", "--make-data", "200", "--out", str(env.data)], env, {0})


def make_problem(env):
    """One problem file, written the way ci/adapters/README.md keeps a run's files (cp {in} ...)."""
    if env.problem.exists():
        return
    cmd = [MXGUARD, "matrix", "--cases", str(SOURCE / "cases/default/small-decode.json"), "--backend", "external",
           "--jobs", "1", "--out", str(env.work / "problem-out"),
           "--filter", "*small-tp1-r0/T=1/route=uniform/*prep=deinterleaved/wshuf=none/sshuf=none/*gate=separated*",
           "--kernel-cmd", f"cp {{in}} {shlex.quote(str(env.problem))} && {env.host_adapter}"]
    run(cmd, env, {0})
    assert env.problem.exists(), "the matrix did not hand the kernel command a problem file"


def run(argv, env, expected, timeout=600, cwd=None):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd or env.cwd,
                          env={**os.environ, "MXGUARD": MXGUARD})
    if proc.returncode not in expected:
        raise AssertionError(f"exit {proc.returncode}, expected {sorted(expected)}: {shlex.join(argv)}\n"
                             f"stdout tail: {proc.stdout[-1500:]}\nstderr tail: {proc.stderr[-1500:]}")
    return proc


WORKFLOW_VALUES = {
    # ${{ ... }} expressions and step variables of ci/workflows/*.yml, at their defaults.
    r"\$\{\{\s*steps\.limits\.outputs\.tp\s*\}\}": "8",
    r"\$\{\{\s*steps\.limits\.outputs\.wait\s*\}\}": "30",
    r"\$\{\{\s*steps\.limits\.outputs\.min_accuracy\s*\}\}": "0.79",
    r"\$\{\{\s*matrix\.gu_itlv\s*\}\}": "0",
    r"\$\{\{\s*steps\.data\.outputs\.path\s*\}\}": "{data}",
    r'"\$AITER_CASES"': "cases/premerge",
    r'"\$AITER_FILTER"': "'*gptoss*'",
    r'"\$MATRIX_JOBS"': "2",
    r'"\$config_json"': "{config}",
    r'"http://127\.0\.0\.1:\$PORT"': "http://127.0.0.1:{port}",
    r"\$HOME/mxguard/": f"{SOURCE}/",
    r"~/mxguard/build/default/harness/mxguard": MXGUARD,
    r"~/mxguard/": f"{SOURCE}/",
}


def substitute(line, env):
    for pattern, value in WORKFLOW_VALUES.items():
        line = re.sub(pattern, lambda _m, v=value: v, line)
    line = line.replace("{data}", str(env.data)).replace("{port}", str(env.port or 0))
    line = line.replace("{config}", str(SOURCE / "harness/preflight/tests/fixtures/gpt-oss-120b.config.json"))
    # The AITER adapter needs an MI35x: the host adapter speaks the same protocol.
    line = re.sub(r"python3 [\w/.$-]*ci/adapters/aiter_fused_moe\.py \{in\} \{out\}", env.host_adapter, line)
    return line


def argv_of(line, env):
    argv = shlex.split(substitute(line, env))
    if not argv:
        return argv
    if argv[0].endswith("mxguard"):
        argv[0] = MXGUARD
    return argv


def set_option(argv, name, value):
    if name in argv:
        argv[argv.index(name) + 1] = value
    else:
        argv += [name, value]


def run_matrix(line, env, notes):
    argv = argv_of(line, env)
    if "--backend" in argv and argv[argv.index("--backend") + 1] == "hip":
        argv[argv.index("--backend") + 1] = "host"
        notes.append("hip -> host (no GPU here)")
    out = env.work / f"matrix-{len(list(env.work.glob('matrix-*')))}"
    set_option(argv, "--out", str(out))
    listing = run(argv + ["--list"], env, {0})
    total = int(re.search(r"(\d+) combinations\s*$", listing.stdout.strip()).group(1))
    if total > MAX_COMBINATIONS:
        shards = math.ceil(total / MAX_COMBINATIONS)
        argv += ["--shard", f"1/{shards}"]
        notes.append(f"--shard 1/{shards} of {total} combinations")
    run(argv, env, {0}, timeout=900)
    report = json.loads((out / "report.json").read_text())
    totals = report["totals"]
    if totals.get("error", 0) or totals.get("total", 1) == 0:
        raise AssertionError(f"{totals}: {shlex.join(argv)}")
    notes.append(f"{totals.get('total')} combinations, 0 ERROR")


def run_kernel_external(line, env, notes):
    make_problem(env)
    argv = argv_of(line, env)
    set_option(argv, "--in", str(env.problem))
    set_option(argv, "--out", str(env.work / "y.safetensors"))
    if "--kernel-cmd" in argv and "…" in argv[argv.index("--kernel-cmd") + 1]:
        argv[argv.index("--kernel-cmd") + 1] = env.host_adapter
        notes.append("elided --kernel-cmd -> host adapter")
    run(argv, env, {0})


def run_plain(expected):
    def handler(line, env, notes):
        run(argv_of(line, env), env, expected)
    return handler


def run_probe(line, env, notes):
    env.start_standin(["--accuracy", "0.9"])
    make_data(env)
    argv = argv_of(line, env)
    set_option(argv, "--data", str(env.data))
    if "--base-url" not in argv:
        argv += ["--base-url", f"http://127.0.0.1:{env.port}"]
    if "--baseline" in argv:
        base = env.work / "baseline-out"
        if not (base / "probe.jsonl").exists():
            run([MXGUARD, "probe", "--data", str(env.data), "--base-url", f"http://127.0.0.1:{env.port}",
                 "--out", str(base)], env, {0, 1})
        set_option(argv, "--baseline", str(base / "probe.jsonl"))
    if "--bisect" not in argv:
        set_option(argv, "--out", str(env.work / f"probe-{len(list(env.work.glob('probe-*')))}"))
    # A verdict either way (0 pass / 1 regression; with --bisect the same codes): not 2, 3, 129.
    run(argv, env, {0, 1})


def run_standin(line, env, notes):
    argv = argv_of(line, env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    set_option(argv, "--port", str(port))
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if proc.poll() is not None:
                raise AssertionError(f"standin exited {proc.returncode}: {proc.stderr.read()[-800:]}")
            time.sleep(0.1)
        raise AssertionError("standin never listened")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_bisect_check(line, env, notes):
    """`ci/bisect ... --check '<mxguard args>'` as one step inside a throwaway repository."""
    argv = argv_of(line.replace("git bisect run ", ""), env)
    if argv[0].endswith("ci/bisect"):
        argv[0] = str(SOURCE / "ci/bisect")
    repo = env.work / "bisect-repo"
    if not repo.exists():
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    set_option(argv, "--mxguard", MXGUARD)
    check = argv.index("--check") + 1
    inner = shlex.split(argv[check])
    if "--backend" in inner and inner[inner.index("--backend") + 1] == "hip":
        inner[inner.index("--backend") + 1] = "host"
    if inner[0] == "matrix":
        inner += ["--shard", "1/400"]
        notes.append("--shard 1/400")
    argv[check] = shlex.join(inner)
    run(argv, env, {0}, cwd=repo, timeout=900)


def not_here(reason):
    def handler(line, env, notes):
        notes.append(f"not run: {reason}")
    return handler


# First match wins. Patterns are searched in the command line as documented.
RULES = [
    (r"mxguard probe fetch-data", not_here("downloads GSM8K from the Hugging Face hub (no network here); "
                                            "harness/probe tests cover it against a local server")),
    (r"--build '\./build\.sh", not_here("the example's build and restart scripts belong to a serving stack")),
    (r"^git bisect (start|reset|good|bad)", not_here("git bisect bookkeeping, not an mxguard command")),
    (r"ci/bisect .*--check", run_bisect_check),
    (r"git bisect run mxguard probe", not_here("needs a git bisect in progress; `probe --bisect` is run below")),
    (r"mxguard (diagnose|reference) .*(gpt-oss-\d+b/|CKPT|\.\.\.)", not_here(
        "needs a GPT-OSS checkpoint; the diagnose and reference tests run these commands on synthetic ones")),
    (r"mxguard matrix\b", run_matrix),
    (r"mxguard kernel run .*--backend external", run_kernel_external),
    (r"mxguard kernel list", run_plain({0})),
    (r"mxguard probe\b", run_probe),
    (r"mxguard standin\b", run_standin),
    (r"mxguard preflight .*--model-config", run_plain({0, 1})),
    (r"mxguard layout (tp-table|explain)", run_plain({0})),
]


class DocumentedCommands(unittest.TestCase):
    def test_every_documented_command_line_runs(self):
        commands = documented_commands()
        self.assertGreater(len(commands), 10, "the extractor found almost no documented commands")
        unmatched, failures = [], []
        with tempfile.TemporaryDirectory(prefix="mxg-doc-commands-") as work:
            env = Env(work)
            try:
                for origin, line in commands:
                    handler = next((h for p, h in RULES if re.search(p, line)), None)
                    if handler is None:
                        unmatched.append(f"{origin}: {line}")
                        continue
                    notes = []
                    start = time.time()
                    try:
                        handler(line, env, notes)
                        status = "ok"
                    except AssertionError as e:
                        status = "FAILED"
                        failures.append(f"{origin}: {line}\n  {e}")
                    print(f"[{status}] {origin}: {line}  ({'; '.join(notes)}; {time.time() - start:.1f} s)",
                          flush=True)
            finally:
                env.stop()
        self.assertEqual(unmatched, [], "documented commands with no rule (add one to RULES):\n" + "\n".join(unmatched))
        self.assertEqual(failures, [], "documented commands that failed:\n" + "\n\n".join(failures))


if __name__ == "__main__":
    unittest.main(verbosity=2)
