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
SKIP_DIRS = {".git", "build", ".deps", "node_modules", "__pycache__",
             "golden"}  # golden: snapshot outputs of tests (their replay lines name the tests' own cases)

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
        if re.match(r"(?:[\w./~$-]*/)?(?:mxguard|bisect) |git bisect run ", buf) and (buf.count('"') % 2 or buf.count("'") % 2):
            continue  # a command's quoted argument goes on over the next line (prose may hold apostrophes)
        yield buf
        buf = ""
    if buf:
        yield buf


MXGUARD_CALL = re.compile(r"(?:^|(?<=[\s'\"]))(?:[\w~./$-]*/)?mxguard (?=[a-z])")
ELISION = re.compile(r"…|\.\.\.|\[|<[A-Za-z]|\||(?<![\w$={-])[A-Z][A-Z_]{1,}(?![\w=])")


_VALUE_OPTIONS = {}


def takes_value(sub, option):
    """Whether `mxguard SUB --help` lists OPTION with a value (TEXT, INT, FLOAT, ...)."""
    if sub not in _VALUE_OPTIONS:
        out = subprocess.run([MXGUARD, sub, "--help"], capture_output=True, text=True, timeout=60).stdout
        _VALUE_OPTIONS[sub] = set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)(?:,-\w)?\s+[A-Z]+", out, flags=re.M))
    return option in _VALUE_OPTIONS[sub]


def is_command(span):
    """An inline span is a command line, not a mention of an option, unless it ends in an option
    that still needs its value (e.g. "the `mxguard matrix --jobs` option")."""
    tokens = span.split()
    sub = next((t for t in tokens[1:] if not t.startswith("-")), "")
    return not (tokens[-1].startswith("--") and takes_value(sub, tokens[-1].split("=")[0]))


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
        # A span without any option is a mention of a command ("see `mxguard diagnose`"), not a line.
        if (re.match(r"(?:[\w./-]*/)?mxguard [a-z]", span) and " -" in span and not ELISION.search(span)
                and is_command(span)):
            yield span


def from_workflow(path):
    for line in joined_lines(path.read_text(encoding="utf-8").splitlines()):
        if re.search(r"\bbin/mxguard [a-z]", line):
            yield line[line.index("bin/mxguard"):]


def from_help(args):
    out = subprocess.run(args, capture_output=True, text=True, cwd=SOURCE, timeout=60).stdout
    for line in joined_lines(out.splitlines()):
        # Examples only: lines that start with a command (option descriptions and synopses do not).
        if line.endswith("."):
            continue  # prose that starts with a command name ("mxguard matrix and ... write ...")
        if re.match(r"(?:[\w./~-]*/)?mxguard [a-z]", line) or line.startswith("git bisect run "):
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
        run([MXGUARD, "standin", "--make-data", "400", "--out", str(env.data)], env, {0})


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
    r"\$\{\{\s*steps\.limits\.outputs\.p_good\s*\}\}": "0.88",
    r"\$\{\{\s*steps\.limits\.outputs\.p_bad\s*\}\}": "0.21",
    r'"\$\{paired\[@\]\}"': "",  # the optional paired baseline (none on a first run)
    r"\s&$": "",  # started in the background by the workflow step
    r"\$\{\{\s*matrix\.gu_itlv\s*\}\}": "0",
    r"\$\{\{\s*steps\.data\.outputs\.path\s*\}\}": "{data}",
    r'"\$AITER_CASES"': "cases/premerge",
    r'"\$AITER_FILTER"': "'*gptoss*'",
    r'"\$MATRIX_JOBS"': "2",
    r'--shard "\$SHARD"': "",  # one part of the nightly: run_matrix cuts its own --shard
    r'"\$DEVICES"': "0,1",
    r'"\$IMAGE"': "example/image:tag",
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
    # The same for the persistent worker (protocol v2): the Python host adapter (MXGUARD is set by run()).
    line = re.sub(r"python3 [\w/.$-]*ci/adapters/aiter_fused_moe\.py --worker",
                  f"{shlex.quote(sys.executable)} {SOURCE}/ci/adapters/host_adapter.py --worker", line)
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


def run_matrix(line, env, notes, expected=frozenset({0})):
    argv = argv_of(line, env)
    if "--backend" in argv and argv[argv.index("--backend") + 1] == "hip":
        # hip runs in persistent worker processes by default; host does so with --isolate.
        argv[argv.index("--backend") + 1] = "host"
        argv.append("--isolate")
        notes.append("hip -> host --isolate (no GPU here)")
    out = env.work / f"matrix-{len(list(env.work.glob('matrix-*')))}"
    set_option(argv, "--out", str(out))
    argv += small_shard(argv, env, notes)
    run(argv, env, expected, timeout=900)
    counts = json.loads((out / "report.json").read_text())["totals"]["counts"]
    ran = sum(counts.values())
    if counts["ERROR"] or ran == 0:
        raise AssertionError(f"{counts}: {shlex.join(argv)}")
    notes.append(f"{ran} combinations, 0 ERROR")


def small_shard(argv, env, notes):
    """`--shard K/N` options that cut a documented matrix run to a few combinations (none if small)."""
    listing = run(argv + ["--list"], env, {0})
    total = int(re.search(r"(\d+) combinations\s*$", listing.stdout.strip()).group(1))
    if total <= MAX_COMBINATIONS:
        return []
    # The last of N balanced shards; for a nightly-sized plan, N = every combination, so the last
    # shard holds exactly the cheapest one (a shard of a balanced split would cost minutes there).
    shards = math.ceil(total / MAX_COMBINATIONS) if total <= 20000 else total
    notes.append(f"--shard {shards}/{shards} of {total} combinations")
    return ["--shard", f"{shards}/{shards}"]


def run_kernel(line, env, notes):
    make_problem(env)
    argv = argv_of(line, env)
    set_option(argv, "--in", str(env.problem))
    if argv[argv.index("--backend") + 1] == "external" and "--kernel-cmd" not in argv:
        argv += ["--kernel-cmd", env.host_adapter]
        notes.append("no --kernel-cmd shown: the host adapter")
    set_option(argv, "--out", str(env.work / "y.safetensors"))
    if "--kernel-cmd" in argv and "…" in argv[argv.index("--kernel-cmd") + 1]:
        argv[argv.index("--kernel-cmd") + 1] = env.host_adapter
        notes.append("elided --kernel-cmd -> host adapter")
    run(argv, env, {0})


def run_kernel_worker(line, env, notes):
    """A persistent worker given no requests: it must say hello on stdout and exit 0 when stdin closes."""
    argv = argv_of(line, env)
    proc = subprocess.run(argv, input="", capture_output=True, text=True, timeout=120, cwd=env.cwd)
    hello = json.loads(proc.stdout.splitlines()[0]) if proc.stdout.strip() else {}
    if proc.returncode != 0 or hello.get("type") != "hello":
        raise AssertionError(f"exit {proc.returncode}, stdout {proc.stdout[:300]!r}: {shlex.join(argv)}\n"
                             f"stderr tail: {proc.stderr[-800:]}")
    notes.append("hello, then exit 0 at end of input")


def write_safetensors(path, tensors):
    """A minimal safetensors writer (F32 tensors from nested lists), so the test needs no numpy."""
    import struct
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def run_report(line, env, notes):
    """`mxguard report DIR...`: each documented matrix directory becomes one shard of a small matrix
    run made here (shards of one run merge; different runs of one id do not), each probe directory
    this test's probe output."""
    argv = argv_of(line.replace("$IMAGE", "example/image:tag").replace("$GITHUB_SHA", "0" * 40), env)
    options, dirs, i = [], [], 2
    while i < len(argv):
        if argv[i].startswith("--"):
            options += argv[i:i + 2]
            i += 2
        else:
            dirs.append(argv[i])
            i += 1
    matrix_dirs = [d for d in dirs if "probe" not in d]
    probes = sorted(env.work.glob("probe-*"))
    inputs = []
    for k, _ in enumerate(matrix_dirs, start=1):
        shard = env.work / f"report-shard-{len(matrix_dirs)}-{k}"
        if not shard.exists():
            run([MXGUARD, "matrix", "--cases", str(SOURCE / "cases/default/small-decode.json"), "--filter", "*T=1/*",
                 "--shard", f"{k}/{len(matrix_dirs)}", "--out", str(shard)], env, {0})
        inputs.append(str(shard))
    if len(dirs) > len(matrix_dirs):
        if not probes:
            raise AssertionError("no probe output to report on (the report rule runs after the probe lines)")
        inputs.append(str(probes[0]))
    if "--history" in options and not (env.cwd / options[options.index("--history") + 1]).exists():
        del options[options.index("--history"):options.index("--history") + 2]
        notes.append("--history dropped (no history yet)")
    notes.append(f"{len(matrix_dirs)} matrix shard(s) and {len(dirs) - len(matrix_dirs)} probe dir(s) made here")
    set_option(options, "--out", str(env.work / f"report-{len(list(env.work.glob('report-*.html')))}.html"))
    run(argv[:2] + inputs + options, env, {0, 1})


def small_run(env, out, shard="1/1"):
    """A small matrix run (one shard of it) made here, for commands that read run folders."""
    if not (out / "run.json").exists():
        run([MXGUARD, "matrix", "--cases", str(SOURCE / "cases/default/small-decode.json"), "--filter", "*T=1/*",
             "--shard", shard, "--out", str(out)], env, {0})
    return out


def run_merge(line, env, notes):
    """`mxguard merge DIR...`: several folders are the parts K/N of a small run made here; a single folder
    (artifacts/, a glob like parts/*/hip) is a folder holding two such parts."""
    argv = argv_of(line, env)
    options, dirs, i = [], [], 2
    while i < len(argv):
        if argv[i].startswith("--"):
            takes = argv[i] in ("--out",)
            options += argv[i:i + 1 + takes]
            i += 1 + takes
        else:
            dirs.append(argv[i])
            i += 1
    if len(dirs) == 1:
        parent = env.work / "merge-parts"
        for k in (1, 2):
            small_run(env, parent / f"part-{k}", f"{k}/2")
        inputs = [str(parent)]
    else:
        inputs = [str(small_run(env, env.work / f"merge-{len(dirs)}-{k}", f"{k}/{len(dirs)}"))
                  for k in range(1, len(dirs) + 1)]
    notes.append(f"{len(dirs)} documented folder(s) -> parts of a small run made here")
    set_option(options, "--out", str(env.work / f"merged-{len(list(env.work.glob('merged-*')))}"))
    run(argv[:2] + inputs + options, env, {0})


def run_list(line, env, notes):
    """`mxguard matrix ... --list`: the plan and its time estimate, nothing run (hip named: host here)."""
    argv = argv_of(line, env)
    if "--backend" in argv and argv[argv.index("--backend") + 1] == "hip":
        argv[argv.index("--backend") + 1] = "host"
        notes.append("hip -> host (no GPU build here)")
    out = run(argv, env, {0}).stdout
    if "Estimated time" not in out:
        raise AssertionError(f"--list printed no estimate: {shlex.join(argv)}")


def run_write_problem(line, env, notes):
    """`mxguard matrix --write-problem ID --out F`: the problem file and its reference must both appear."""
    argv = argv_of(line, env)
    target = env.work / f"written-{len(list(env.work.glob('written-*')))}" / "p.safetensors"
    set_option(argv, "--out", str(target))
    run(argv, env, {0})
    for f in (target, target.with_name("p.reference.safetensors")):
        if not f.exists():
            raise AssertionError(f"{f} was not written: {shlex.join(argv)}")
    notes.append("problem and reference written")


def run_compare(line, env, notes):
    values = [0.5, -1.25, 2.0, 0.75, 1.0, -0.5]
    near = [v * (1 + 1e-6) for v in values]
    for name in ("kernel_y", "ref", "out"):
        write_safetensors(env.cwd / f"{name}.safetensors", {"y": ([2, 3], values), "y_kernel": ([2, 3], near)})
    notes.append("small F32 files written by the test")
    run(argv_of(line, env), env, {0, 1})


def run_preflight(line, env, notes):
    line = re.sub(r"gpt-oss-(20b|120b)/config\.json",
                  lambda m: str(SOURCE / f"harness/preflight/tests/fixtures/gpt-oss-{m.group(1)}.config.json"), line)
    run(argv_of(line, env), env, {0, 1})  # 1: a known-bad combination found (the examples show both)


def run_plain(expected):
    def handler(line, env, notes):
        run(argv_of(line, env), env, expected)
    return handler


def run_probe(line, env, notes):
    env.start_standin(["--accuracy", "0.9"])
    make_data(env)
    argv = argv_of(line.replace("git bisect run ", ""), env)
    set_option(argv, "--data", str(env.data))
    set_option(argv, "--base-url", f"http://127.0.0.1:{env.port}")
    if "--baseline" in argv:
        base = env.work / "baseline-out"
        if not (base / "probe.jsonl").exists():
            run([MXGUARD, "probe", "--data", str(env.data), "--base-url", f"http://127.0.0.1:{env.port}",
                 "--out", str(base)], env, {0, 1})
        set_option(argv, "--baseline", str(base / "probe.jsonl"))
    if "--agree-with" in argv:
        # The reference run of --agree-with asks the same API the example does.
        api = argv[argv.index("--api") + 1] if "--api" in argv else "sglang"
        base = env.work / f"agree-baseline-{api}"
        if not (base / "probe.jsonl").exists():
            run([MXGUARD, "probe", "--data", str(env.data), "--base-url", f"http://127.0.0.1:{env.port}",
                 "--api", api, "--out", str(base)], env, {0, 1})
        set_option(argv, "--agree-with", str(base / "probe.jsonl"))
    if "--bisect" not in argv:
        set_option(argv, "--out", str(env.work / f"probe-{len(list(env.work.glob('probe-*')))}"))
    # A verdict either way (0 pass / 1 regression; with --bisect the same codes): not 2, 3, 129.
    run(argv, env, {0, 1})


def run_standin(line, env, notes):
    argv = argv_of(line, env)
    if "--make-data" in argv:
        run(argv, env, {0})
        return
    if "--data" in argv and not (env.cwd / argv[argv.index("--data") + 1]).exists():
        run([MXGUARD, "standin", "--make-data", "50", "--out", argv[argv.index("--data") + 1]], env, {0})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    set_option(argv, "--port", str(port))
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=env.cwd)
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
    if "--build" in argv:  # builds the serving stack under test (SGLang's pip install): not here
        del argv[argv.index("--build"):argv.index("--build") + 2]
        notes.append("--build dropped")
    check = argv.index("--check") + 1
    inner = shlex.split(argv[check])
    if "--backend" in inner and inner[inner.index("--backend") + 1] == "hip":
        inner[inner.index("--backend") + 1] = "host"
    if inner[0] == "matrix":
        inner += small_shard([MXGUARD] + inner, env, notes)
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
    (r"mxguard .*--help\b", run_plain({0})),
    (r"mxguard (diagnose|reference) .*(--checkpoint|\.\.\.)", not_here(
        "needs a GPT-OSS checkpoint; the diagnose and reference tests run these commands on synthetic ones")),
    (r"mxguard matrix .*--write-problem", run_write_problem),
    (r"mxguard matrix .*--list", run_list),
    # A kernel mutant is a kernel with an incident's bug built in: the matrix must FAIL it (exit 1),
    # unless the shard that runs here holds none of the combinations the bug shows in.
    (r"mxguard matrix .*--kernel-mutant", lambda line, env, notes: run_matrix(line, env, notes, {0, 1})),
    (r"mxguard matrix\b", run_matrix),
    (r"mxguard merge\b", run_merge),
    (r"mxguard report\b", run_report),
    (r"mxguard kernel run\b", run_kernel),
    (r"mxguard compare\b", run_compare),
    (r"mxguard kernel list", run_plain({0})),
    (r"mxguard kernel worker --backend \w+$", run_kernel_worker),
    (r"mxguard probe simulate", run_plain({0})),
    (r"mxguard probe\b", run_probe),
    (r"mxguard standin\b", run_standin),
    (r"mxguard preflight .*--model-config", run_preflight),
    (r"mxguard layout (tp-table|explain)", run_plain({0})),
]


class DocumentedCommands(unittest.TestCase):
    def test_every_documented_command_line_runs(self):
        commands = documented_commands()
        self.assertGreater(len(commands), 10, "the extractor found almost no documented commands")
        only = os.environ.get("DOC_COMMANDS_ONLY")  # a regex, to rerun some lines while fixing them
        if only:
            commands = [(o, l) for o, l in commands if re.search(only, l)]
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
                    except Exception as e:  # noqa: BLE001 - any failure of a documented line is reported
                        status = "FAILED"
                        failures.append(f"{origin}: {line}\n  {type(e).__name__}: {e}")
                    print(f"[{status}] {origin}: {line}  ({'; '.join(notes)}; {time.time() - start:.1f} s)",
                          flush=True)
            finally:
                env.stop()
        problems = []
        if unmatched:
            problems.append("documented commands with no rule (add one to RULES):\n" + "\n".join(unmatched))
        if failures:
            problems.append("documented commands that failed:\n" + "\n\n".join(failures))
        self.assertFalse(problems, "\n\n".join(problems))


if __name__ == "__main__":
    unittest.main(verbosity=2)
