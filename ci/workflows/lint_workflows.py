#!/usr/bin/env python3
"""Offline lint of the GitHub Actions workflows in ci/workflows/: catches our own typos before a runner does.

Checks, per workflow file:
  - yamllint (if given) and a YAML parse; top-level, job and step keys against GitHub's sets;
    every step has exactly one of run / uses, and a `uses` is pinned (owner/repo@ref);
  - `needs` names existing jobs; step ids are unique in their job;
  - every `${{ }}` is closed and names only known contexts: inputs.X defined under workflow_dispatch,
    matrix.X a key of the job's matrix (for a fromJSON matrix: the keys listed in a
    `# matrix-keys <job>: k1 k2 ...` comment), needs.J.outputs.O declared by a job J the job needs,
    steps.S.outputs.O of an earlier step S (a run step must write O=, mxg_ci.py writes its own),
    env.X set in the workflow, the job or the step;
  - every `run:` passes `bash -n` once expressions are replaced by a placeholder;
  - every repository path a run block or env value names (ci/..., cases/..., harness/...) exists;
  - every `mxguard` subcommand and option used appears in `mxguard <cmd> --help`, and every
    `mxg_ci.py` subcommand and option in its own --help.
Exit 0 clean, 1 problems found (one line each), 2 usage error.
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import yaml

TOP_KEYS = {"name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"}
JOB_KEYS = {"name", "needs", "runs-on", "permissions", "environment", "concurrency", "outputs", "env", "defaults",
            "if", "steps", "timeout-minutes", "strategy", "continue-on-error", "container", "services", "uses",
            "with", "secrets"}
STEP_KEYS = {"id", "if", "name", "uses", "run", "with", "env", "continue-on-error", "timeout-minutes",
             "working-directory", "shell"}
STRATEGY_KEYS = {"matrix", "fail-fast", "max-parallel"}
CONTEXTS = {"github", "env", "vars", "secrets", "inputs", "matrix", "needs", "steps", "job", "runner", "strategy"}
FUNCTIONS = {"contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON", "hashFiles", "success",
             "always", "cancelled", "failure"}
# Folders of this repository that workflow commands may name; each named path must exist.
REPO_DIRS = ("ci", "cases", "harness", "kernels", "reference", "reports")
REPO_PATH = re.compile(r"(?<![\w/.$-])(?:\.\./)?(?:mxguard/)?((?:" + "|".join(REPO_DIRS) + r")/[\w./-]*\w)")
# Outputs mxg_ci.py writes to $GITHUB_OUTPUT (set_output calls in mxg_ci.py).
MXG_CI_OUTPUTS = {"result", "exit_code", "verdict", "run_id", "run_url"}
# mxguard subcommands a workflow may use before the binary has them, with the options they will take
# (name -> set of options); the binary's real --help wins once it has the command. Empty: every
# command the workflows use exists.
PENDING_MXGUARD_COMMANDS: dict[str, set[str]] = {}
EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class Linter:
    def __init__(self, repo: Path, mxguard: str | None, mxg_ci: Path):
        self.repo = repo
        self.mxguard = mxguard
        self.mxg_ci = mxg_ci
        self.problems: list[str] = []
        self.pending_bash: list[tuple[str, str]] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # ---------------------------------------------------------------- structure
    def lint_file(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            self.problem(str(path), f"YAML does not parse: {e}")
            return
        if not isinstance(doc, dict):
            self.problem(str(path), "not a mapping at the top level")
            return
        if True in doc:  # YAML 1.1 reads the key `on` as boolean true
            doc["on"] = doc.pop(True)
        for key in doc:
            if key not in TOP_KEYS:
                self.problem(str(path), f"unknown top-level key {key!r}")
        for key in ("on", "jobs"):
            if key not in doc:
                self.problem(str(path), f"missing top-level key {key!r}")
        jobs = doc.get("jobs") or {}
        inputs = set()
        on = doc.get("on")
        if isinstance(on, dict) and isinstance(on.get("workflow_dispatch"), dict):
            inputs = set((on["workflow_dispatch"].get("inputs") or {}).keys())
        dynamic_keys = {m.group(1): set(m.group(2).split())
                        for m in re.finditer(r"^#\s*matrix-keys\s+([\w-]+):\s*(.*)$", text, re.M)}
        workflow_env = set((doc.get("env") or {}).keys())
        self.scan_expressions(f"{path}", doc.get("on"), Scope(inputs=inputs))
        for job_name, job in jobs.items():
            self.lint_job(f"{path}: jobs.{job_name}", job_name, job, jobs, inputs, dynamic_keys, workflow_env)
        self.flush_bash()

    def lint_job(self, where, job_name, job, jobs, inputs, dynamic_keys, workflow_env) -> None:
        if not isinstance(job, dict):
            self.problem(where, "a job must be a mapping")
            return
        for key in job:
            if key not in JOB_KEYS:
                self.problem(where, f"unknown job key {key!r}")
        if "uses" not in job:
            for key in ("runs-on", "steps"):
                if key not in job:
                    self.problem(where, f"missing {key!r}")
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else list(needs or [])
        for need in needs:
            if need not in jobs:
                self.problem(where, f"needs unknown job {need!r}")
            elif need == job_name:
                self.problem(where, "needs itself")
        strategy = job.get("strategy") or {}
        for key in strategy:
            if key not in STRATEGY_KEYS:
                self.problem(where, f"unknown strategy key {key!r}")
        matrix = strategy.get("matrix")
        if isinstance(matrix, str):
            matrix_keys = dynamic_keys.get(job_name)
            if matrix_keys is None:
                self.problem(where, f"matrix is an expression; list its keys in a '# matrix-keys {job_name}: ...' comment")
                matrix_keys = set()
        elif isinstance(matrix, dict):
            matrix_keys = {k for k in matrix if k not in ("include", "exclude")}
            for entry in matrix.get("include", []) or []:
                matrix_keys |= set(entry)
        else:
            matrix_keys = set()
        job_env = workflow_env | set((job.get("env") or {}).keys())
        need_outputs = {n: set(((jobs.get(n) or {}).get("outputs") or {}).keys()) for n in needs if n in jobs}
        scope = Scope(inputs=inputs, matrix=matrix_keys, needs=need_outputs, env=job_env)
        for key in ("name", "runs-on", "if", "env", "container", "strategy", "timeout-minutes", "continue-on-error",
                    "concurrency", "defaults"):
            self.scan_expressions(f"{where}.{key}", job.get(key), scope)
        steps = job.get("steps") or []
        seen_ids: dict[str, set[str] | None] = {}
        for i, step in enumerate(steps):
            label = f"{where}.steps[{i}]"
            if isinstance(step, dict) and step.get("name"):
                label += f" ({step['name']})"
            self.lint_step(label, step, scope, seen_ids)
        # Job outputs are read after every step ran: they may name any step.
        self.scan_expressions(f"{where}.outputs", job.get("outputs"), scope.with_steps(seen_ids))

    def lint_step(self, where, step, scope, seen_ids) -> None:
        if not isinstance(step, dict):
            self.problem(where, "a step must be a mapping")
            return
        for key in step:
            if key not in STEP_KEYS:
                self.problem(where, f"unknown step key {key!r}")
        if ("run" in step) == ("uses" in step):
            self.problem(where, "a step needs exactly one of 'run' or 'uses'")
        uses = step.get("uses")
        if isinstance(uses, str) and not uses.startswith("./") and not re.fullmatch(r"[\w.-]+/[\w./-]+@[\w./-]+", uses):
            self.problem(where, f"'uses: {uses}' is not owner/repo@ref")
        step_scope = scope.with_steps(seen_ids).with_env(set((step.get("env") or {}).keys()))
        for key in ("name", "if", "with", "env", "run", "working-directory", "continue-on-error", "timeout-minutes"):
            self.scan_expressions(f"{where}.{key}", step.get(key), step_scope)
        for value in (step.get("env") or {}).values():
            if isinstance(value, str):
                self.check_repo_paths(where, value)
        run = step.get("run")
        if isinstance(run, str):
            self.check_bash(where, run)
            self.check_repo_paths(where, run)
            self.check_commands(where, run)
        step_id = step.get("id")
        if step_id is not None:
            if step_id in seen_ids:
                self.problem(where, f"duplicate step id {step_id!r}")
            if isinstance(run, str):
                outputs = set(re.findall(r"(?<![\w$])([A-Za-z_][\w-]*)=", run))
                if "mxg_ci.py" in run:
                    outputs |= MXG_CI_OUTPUTS
                seen_ids[step_id] = outputs
            else:
                seen_ids[step_id] = None  # an action's outputs are not known here

    # ---------------------------------------------------------------- expressions
    def scan_expressions(self, where, value, scope: "Scope") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.scan_expressions(f"{where}.{k}", v, scope)
            return
        if isinstance(value, list):
            for i, v in enumerate(value):
                self.scan_expressions(f"{where}[{i}]", v, scope)
            return
        if not isinstance(value, str):
            return
        if value.count("${{") != value.count("}}") or len(EXPR.findall(value)) != value.count("${{"):
            self.problem(where, f"unbalanced ${{{{ }}}} in {value.strip()[:80]!r}")
        for body in EXPR.findall(value):
            self.check_expression(where, body, scope)

    def check_expression(self, where, body, scope: "Scope") -> None:
        stripped = re.sub(r"'(?:[^']|'')*'", "''", body)  # string literals may hold anything
        if stripped.count("(") != stripped.count(")"):
            self.problem(where, f"unbalanced parentheses in ${{{{{body}}}}}")
        for name in re.findall(r"([A-Za-z_][\w-]*)\s*\(", stripped):
            if name not in FUNCTIONS:
                self.problem(where, f"unknown function {name}() in ${{{{{body}}}}}")
        for ref in re.finditer(r"(?<![\w.])([A-Za-z_][\w-]*)((?:\.[\w-]+|\[\d+\])*)", stripped):
            head, rest = ref.group(1), ref.group(2)
            if head in FUNCTIONS or head in ("true", "false", "null") and not rest:
                continue
            if stripped[ref.end():].lstrip().startswith("("):
                continue
            if head not in CONTEXTS:
                self.problem(where, f"unknown context {head!r} in ${{{{{body}}}}}")
                continue
            parts = [p for p in rest.split(".") if p]
            scope.check(self, where, head, parts, body)

    # ---------------------------------------------------------------- run blocks
    def check_bash(self, where, run) -> None:
        self.pending_bash.append((where, EXPR.sub("EXPR", run)))

    def flush_bash(self) -> None:
        """bash -n on every run block of a file: one bash for all of them (each wrapped in a function),
        and only when that fails one bash per block, to say which block is wrong."""
        blocks, self.pending_bash = self.pending_bash, []
        combined = "".join(f"__mxg_block_{i}() {{\n{script}\n}}\n" for i, (_, script) in enumerate(blocks))
        if subprocess.run(["bash", "-n"], input=combined, text=True, capture_output=True).returncode == 0:
            return
        for where, script in blocks:
            done = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
            if done.returncode != 0:
                message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "error"
                self.problem(where, f"bash -n: {message}")

    def check_repo_paths(self, where, text) -> None:
        for match in REPO_PATH.finditer(EXPR.sub("EXPR", text)):
            rel = match.group(1)
            if not (self.repo / rel).exists():
                self.problem(where, f"names {rel}, which does not exist in the repository")

    def check_commands(self, where, run) -> None:
        script = EXPR.sub("EXPR", run).replace("\\\n", " ")
        for line in script.splitlines():
            try:
                lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
                lexer.whitespace_split = True
                lexer.commenters = "#"
                tokens = list(lexer)
            except ValueError:
                continue  # bash -n already judged the syntax
            for i, token in enumerate(tokens):
                if Path(token).name == "mxguard" or token in ("$MXGUARD", "${MXGUARD}"):
                    if i > 0 and tokens[i - 1] in ("-n", "name:", "--name"):
                        continue
                    self.check_cli(where, "mxguard", tokens[i + 1:], self.mxguard_help)
                elif Path(token).name == "mxg_ci.py":
                    self.check_cli(where, "mxg_ci.py", tokens[i + 1:], self.mxg_ci_help)

    def check_cli(self, where, program, args, help_of) -> None:
        chain: list[str] = []
        options = help_of(tuple(chain))
        if options is None:
            return
        for arg in args:
            if arg in (";", "&", "&&", "|", "||", ")", "(", ">", "<", ">>", "2>&1") or arg == "--":
                break
            if arg.startswith("-"):
                name = arg.split("=", 1)[0]
                if name not in options.flags:
                    self.problem(where, f"`{program} {' '.join(chain)}` has no option {name}")
            elif not chain or options.subcommands:
                if arg in options.subcommands:
                    chain.append(arg)
                    options = help_of(tuple(chain))
                    if options is None:
                        return
                elif not chain:
                    self.problem(where, f"`{program}` has no subcommand {arg!r}")
                    return

    def mxguard_help(self, chain: tuple[str, ...]) -> "HelpInfo | None":
        if not self.mxguard:
            return None
        return _mxguard_help(self.mxguard, chain)

    def mxg_ci_help(self, chain: tuple[str, ...]) -> "HelpInfo | None":
        return _mxg_ci_help(str(self.mxg_ci), chain)


@lru_cache(maxsize=None)
def _mxguard_help(mxguard: str, chain: tuple[str, ...]) -> "HelpInfo":
    if chain and chain[0] in PENDING_MXGUARD_COMMANDS and chain[0] not in _mxguard_help(mxguard, ()).real_subcommands:
        return HelpInfo(set(PENDING_MXGUARD_COMMANDS[chain[0]]), set())
    done = subprocess.run([mxguard, *chain, "--help"], capture_output=True, text=True)
    info = HelpInfo.parse(done.stdout)
    if not chain:
        info.subcommands |= set(PENDING_MXGUARD_COMMANDS)  # real_subcommands keeps what the binary has
    return info


@lru_cache(maxsize=None)
def _mxg_ci_help(mxg_ci: str, chain: tuple[str, ...]) -> "HelpInfo":
    done = subprocess.run([sys.executable, mxg_ci, *chain, "--help"], capture_output=True, text=True)
    info = HelpInfo.parse(done.stdout)
    if not chain:
        found = re.findall(r"\{([\w,-]+)\}", done.stdout)
        info.subcommands = set(found[0].split(",")) if found else set()
    return info


class HelpInfo:
    def __init__(self, flags: set[str], subcommands: set[str]):
        self.flags = flags
        self.subcommands = subcommands
        self.real_subcommands = set(subcommands)

    @staticmethod
    def parse(text: str) -> "HelpInfo":
        flags = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))
        subcommands = set()
        in_subcommands = False
        for line in text.splitlines():
            if re.match(r"^Subcommands:", line):
                in_subcommands = True
                continue
            if in_subcommands:
                m = re.match(r"^  ([a-z][\w-]*)\s", line)
                if m:
                    subcommands.add(m.group(1))
                elif line and not line.startswith(" "):
                    in_subcommands = False
        return HelpInfo(flags, subcommands)


class Scope:
    def __init__(self, inputs=frozenset(), matrix=frozenset(), needs=None, env=frozenset(), steps=None):
        self.inputs, self.matrix, self.env = set(inputs), set(matrix), set(env)
        self.needs = needs or {}
        self.steps = steps or {}

    def with_steps(self, steps) -> "Scope":
        return Scope(self.inputs, self.matrix, self.needs, self.env, dict(steps))

    def with_env(self, env) -> "Scope":
        return Scope(self.inputs, self.matrix, self.needs, self.env | set(env), self.steps)

    def check(self, linter: Linter, where, head, parts, body) -> None:
        def bad(message):
            linter.problem(where, f"{message} in ${{{{{body.strip()}}}}}")
        if head == "inputs" and parts and parts[0] not in self.inputs:
            bad(f"input {parts[0]!r} is not defined under workflow_dispatch")
        elif head == "matrix" and parts and parts[0] not in self.matrix:
            bad(f"matrix key {parts[0]!r} is not in this job's matrix")
        elif head == "env" and parts and parts[0] not in self.env:
            bad(f"env.{parts[0]} is not set in the workflow, job or step")
        elif head == "needs" and parts:
            if parts[0] not in self.needs:
                bad(f"job {parts[0]!r} is not in this job's needs")
            elif len(parts) >= 3 and parts[1] == "outputs" and parts[2] not in self.needs[parts[0]]:
                bad(f"job {parts[0]!r} declares no output {parts[2]!r}")
            elif len(parts) >= 2 and parts[1] not in ("outputs", "result"):
                bad(f"needs.{parts[0]}.{parts[1]}: only outputs and result exist")
        elif head == "steps" and parts:
            if parts[0] not in self.steps:
                bad(f"no earlier step has id {parts[0]!r}")
            elif len(parts) >= 2 and parts[1] not in ("outputs", "outcome", "conclusion"):
                bad(f"steps.{parts[0]}.{parts[1]}: only outputs, outcome and conclusion exist")
            elif len(parts) >= 3 and parts[1] == "outputs":
                known = self.steps[parts[0]]
                if known is not None and parts[2] not in known:
                    bad(f"step {parts[0]!r} never writes output {parts[2]!r}")


def run_yamllint(yamllint: str, files: list[Path]) -> list[str]:
    config = ("{extends: default, rules: {line-length: {max: 140}, truthy: {check-keys: false}, "
              "document-start: disable, comments: {min-spaces-from-content: 1}}}")
    done = subprocess.run([yamllint, "-f", "parsable", "-d", config, *map(str, files)], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if line.strip()] + (
        [f"yamllint failed: {done.stderr.strip()}"] if done.returncode not in (0, 1) else [])


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="workflow files (default: ci/workflows/*.yml)")
    parser.add_argument("--mxguard", help="mxguard binary whose --help output the commands are checked against")
    parser.add_argument("--repo", type=Path, default=here.parent.parent, help="repository root (default: this checkout)")
    parser.add_argument("--yamllint", help="yamllint executable; omitted: yamllint is not run")
    parser.add_argument("--action-validator", help="action-validator executable (npm @action-validator/cli); optional")
    args = parser.parse_args(argv)
    files = args.files or sorted(here.glob("*.yml"))
    if not files:
        print("lint_workflows.py: no workflow files", file=sys.stderr)
        return 2
    if args.mxguard and not Path(args.mxguard).is_file():
        print(f"lint_workflows.py: --mxguard {args.mxguard}: no such file", file=sys.stderr)
        return 2
    linter = Linter(args.repo.resolve(), args.mxguard, here / "mxg_ci.py")
    if args.yamllint:
        linter.problems += run_yamllint(args.yamllint, files)
    for path in files:
        linter.lint_file(path)
        if args.action_validator:
            done = subprocess.run([args.action_validator, str(path)], capture_output=True, text=True)
            if done.returncode != 0:
                linter.problem(str(path), f"action-validator: {(done.stdout + done.stderr).strip()}")
    for line in linter.problems:
        print(line)
    checked = "mxguard options checked" if args.mxguard else "mxguard options NOT checked (no --mxguard)"
    print(f"lint_workflows.py: {len(files)} files, {len(linter.problems)} problems ({checked})", file=sys.stderr)
    return 1 if linter.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
