#!/usr/bin/env python3
"""The HTML report in a real browser (headless Chromium, Debian's `chromium`; no network).

1. A small real matrix (`mxguard matrix --cases cases/default --filter 'small-*' --mutants`) writes its
   report.html: opened in Chromium, it must log nothing to the console, its own error trap must be
   empty, the verdict counts it shows must equal report.json's totals, and every heatmap cell (read back
   from the DOM by its accessible label) must show the worst verdict of exactly the results report.json
   holds for that row and layout combination, computed here independently.
2. The same report.json with planted FAILs, given to `mxguard report` with a constructed history: the
   failure group the page shows must select exactly the planted results when its rule is applied here
   to report.json, and "new / fixed since last night" and the trend must match the history.
3. A probe run against `mxguard standin` at a collapsed accuracy: the page shows REGRESSION, the
   accuracy and the questions to verdict of probe.json.
Screenshots of the three pages are saved for people to look at.
"""
from __future__ import annotations

import argparse
import html.parser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEVERITY = {"FAIL": 5, "BLIND": 4, "ERROR": 3, "CAUGHT": 2, "PASS": 1, "SKIPPED": 0}
CELL_DIMS = {"routing", "inputs"}  # vary inside a heatmap cell


class Failure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


class Dom(html.parser.HTMLParser):
    """The few things the test reads from a dumped DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.cells: list[dict] = []          # heatmap <td data-r> attributes and text
        self.counts: dict[str, str] = {}     # [data-count] text
        self.selfcheck = ""
        self.fields: dict[str, str] = {}     # [data-field] text (probe)
        self.overall = ""
        self.conds: list[tuple[str, str, str]] = []  # (group verdict, role, text) of the first group per verdict
        self.ids: dict[str, list[str]] = {}  # text of elements with an id of interest
        self.trend_rows = 0
        self._text_target: list = []
        self._group_verdict = ""
        self._group_index = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append((tag, a))
        if tag in ("br", "meta", "input", "img", "link", "hr"):
            self.stack.pop()
            return
        target = None
        if tag == "td" and "data-r" in a:
            target = {"attrs": a, "text": ""}
            self.cells.append(target)
        elif "data-count" in a:
            target = {"count": a["data-count"], "text": ""}
        elif a.get("id") == "mxg-selfcheck":
            target = {"selfcheck": True, "text": ""}
        elif "data-field" in a:
            target = {"field": a["data-field"], "text": ""}
        elif a.get("id") == "overall":
            target = {"overall": True, "text": ""}
        elif a.get("data-role") in ("rule", "shared") and self._group_index == "0":
            target = {"cond": a["data-role"], "verdict": self._group_verdict, "text": ""}
        elif tag == "span" and a.get("class") == "count" and self._in_id():
            target = {"idcount": self._in_id(), "text": ""}
        if "data-group-verdict" in a:
            self._group_verdict = a["data-group-verdict"]
        if "data-group" in a:
            self._group_index = a["data-group"]
        if tag == "tr" and "data-night" in a:
            self.trend_rows += 1
        self._text_target.append(target)

    def _in_id(self) -> str:
        for tag, a in reversed(self.stack):
            if a.get("id") in ("since-new", "since-fixed", "since-notrun"):
                return a["id"]
        return ""

    def handle_endtag(self, tag):
        while self.stack:
            t, a = self.stack.pop()
            target = self._text_target.pop()
            if target is not None:
                if "count" in target:
                    self.counts[target["count"]] = target["text"]
                elif "selfcheck" in target:
                    self.selfcheck = target["text"]
                elif "field" in target:
                    self.fields[target["field"]] = target["text"]
                elif "overall" in target:
                    self.overall = target["text"]
                elif "cond" in target:
                    self.conds.append((target["verdict"], target["cond"], target["text"]))
                elif "idcount" in target:
                    self.ids[target["idcount"]] = [target["text"]]
            if "data-group" in a:
                self._group_index = None
            if t == tag:
                break

    def handle_data(self, data):
        for target in self._text_target:
            if target is not None:
                target["text"] += data


class Browser:
    def __init__(self, chromium: str, work: Path):
        self.chromium = chromium
        self.work = work

    def _base(self, profile: Path) -> list[str]:
        return [self.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]

    def dump_dom(self, page: Path, fragment: str = "") -> tuple[str, str]:
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=self.work))
        try:
            done = subprocess.run(self._base(profile) + ["--virtual-time-budget=15000", "--dump-dom",
                                                         page.resolve().as_uri() + fragment],
                                  capture_output=True, text=True, timeout=120)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        check(done.returncode == 0, f"chromium --dump-dom {page} exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout, done.stderr

    def screenshot(self, page: Path, out: Path, height: int) -> None:
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=self.work))
        try:
            done = subprocess.run(self._base(profile) + ["--hide-scrollbars", f"--window-size=1280,{height}",
                                                         "--virtual-time-budget=15000", f"--screenshot={out}",
                                                         page.resolve().as_uri()],
                                  capture_output=True, text=True, timeout=120)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        check(done.returncode == 0 and out.exists() and out.stat().st_size > 10000,
              f"chromium --screenshot {page} failed ({done.returncode}): {done.stderr[-2000:]}")


def open_page(browser: Browser, page: Path, fragment: str = "") -> Dom:
    check(page.exists(), f"{page} was not written")
    dom_text, log = browser.dump_dom(page, fragment)
    # Anything the page logs is a failure; Chromium's own start-up chatter (D-Bus, GPU) is not from the page.
    console = [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    check(not console, f"{page}: console output:\n" + "\n".join(console))
    dom = Dom()
    dom.feed(dom_text)
    check(dom.selfcheck != "", f"{page}: the page's self-check never ran (script did not finish)")
    result = json.loads(dom.selfcheck)
    check(result["errors"] == [], f"{page}: errors caught by the page: {result['errors']}")
    check(result["rendered"] and result["ok"], f"{page}: the page did not finish rendering: {result}")
    dom.result = result
    return dom


def expected_cells(report: dict) -> dict:
    """Worst verdict per (row label, layout combination) over the matrix results, as the page must draw it."""
    cells: dict = {}
    for r in report["results"]:
        if r["mutant"]:
            continue
        row = f"{r['case_name']} · {r['shape']} · T={r['tokens']}"
        col = tuple(sorted((k, v) for k, v in r["dims"].items() if k not in CELL_DIMS))
        cur = cells.get((row, col))
        if cur is None or SEVERITY[r["verdict"]] > SEVERITY[cur]:
            cells[(row, col)] = r["verdict"]
    return cells


def dom_cells(dom: Dom) -> dict:
    out = {}
    for c in dom.cells:
        parts = c["attrs"]["aria-label"].split(", ")
        verdict, row = parts[0], parts[1]
        col = tuple(sorted(tuple(p.split(" ", 1)) for p in parts[2:]))
        check((row, col) not in out, f"heatmap cell drawn twice: {row} {col}")
        check(c["text"] == verdict[0] and c["attrs"]["data-v"] == verdict,
              f"cell {row} {col}: letter {c['text']!r} / data-v {c['attrs']['data-v']} disagree with {verdict}")
        out[(row, col)] = verdict
    return out


def check_matrix_page(dom: Dom, report: dict, page: Path) -> None:
    counts = report["totals"]["counts"]
    for verdict, n in counts.items():
        check(dom.counts.get(verdict) == str(n), f"{page}: {verdict} shows {dom.counts.get(verdict)!r}, report.json has {n}")
    want, got = expected_cells(report), dom_cells(dom)
    check(set(got) == set(want), f"{page}: heatmap cells differ from report.json: "
          f"{len(set(want) - set(got))} missing, {len(set(got) - set(want))} extra")
    wrong = [(k, got[k], want[k]) for k in want if got[k] != want[k]]
    check(not wrong, f"{page}: {len(wrong)} cells show the wrong verdict, e.g. {wrong[:3]}")
    matrix_results = sum(1 for r in report["results"] if not r["mutant"])
    check(dom.result["heatmap"]["results"] == matrix_results,
          f"{page}: cells hold {dom.result['heatmap']['results']} results, report.json has {matrix_results}")
    score = f"{report['totals']['mutants_killed']} / {report['totals']['mutants_total']}"
    print(f"  {page.name}: {len(got)} cells, counts {counts}, mutation score {score}: match report.json")


def check_replay(browser: Browser, dom: Dom, report: dict, page: Path, mxguard: str, work: Path) -> None:
    """Open a PASS cell holding several results through its link (#cell=R,C) and run the two replay commands
    the page gives: the first must rerun exactly the representative result, the second the whole cell."""
    members: dict = {}
    for r in report["results"]:
        if not r["mutant"]:
            key = (f"{r['case_name']} · {r['shape']} · T={r['tokens']}",
                   tuple(sorted((k, v) for k, v in r["dims"].items() if k not in CELL_DIMS)))
            members.setdefault(key, []).append(r)
    target = None
    for c in dom.cells:
        parts = c["attrs"]["aria-label"].split(", ")
        key = (parts[1], tuple(sorted(tuple(p.split(" ", 1)) for p in parts[2:])))
        if c["attrs"]["data-v"] == "PASS" and len(members[key]) > 1:
            target = (c["attrs"]["data-r"], c["attrs"]["data-c"], key)
            break
    check(target is not None, f"{page}: no PASS cell with several results to replay")
    opened = open_page(browser, page, f"#cell={target[0]},{target[1]}").result.get("selected")
    check(opened is not None and opened["replay_result"] and opened["replay_cell"],
          f"{page}: #cell={target[0]},{target[1]} did not open the cell: {opened}")
    cell = members[target[2]]
    check(opened["id"] in {r["id"] for r in cell} and opened["results"] == len(cell),
          f"{page}: the opened cell shows {opened['id']} of {opened['results']}, report.json has {len(cell)} results there")
    for which, expected in (("replay_result", {opened["id"]}), ("replay_cell", {r["id"] for r in cell})):
        argv = shlex.split(opened[which])
        check(argv[0] == "mxguard" and argv[-2] == "--out", f"unexpected replay command {opened[which]!r}")
        out = work / which
        done = subprocess.run([mxguard, *argv[1:-1], str(out)], capture_output=True, text=True, timeout=300)
        check(done.returncode == 0, f"{opened[which]} exited {done.returncode}: {done.stderr[-1500:]}")
        rerun = json.loads((out / "report.json").read_text())["results"]
        check({r["id"] for r in rerun} == expected and all(r["verdict"] == "PASS" for r in rerun),
              f"{opened[which]} reran {sorted(r['id'] for r in rerun)}, expected {sorted(expected)}")
    print(f"  {page.name}#cell={target[0]},{target[1]}: both replay commands rerun exactly the cell's results")


def shape_part(shape: str, pattern: str) -> str:
    m = re.search(pattern, shape)
    return m.group(1) if m else "-"


def attribute(r: dict, name: str) -> str:
    """A result's value of a grouping attribute, computed here from report.json."""
    if name in r["dims"]:
        return r["dims"][name]
    if name == "tp":
        return shape_part(r["shape"], r"(?:^|-)tp(\d+)(?:-|$)")
    if name == "rank":
        return shape_part(r["shape"], r"(?:^|-)r(\d+)(?:-|$)")
    return {"shape": r["shape"], "case": r["case_name"], "tokens": str(r["tokens"]), "seed": str(r["seed"])}[name]


def plant(report: dict) -> set[str]:
    """FAIL every consistent combination with is_shuffled=true and gate_mode=interleave on small-tp2 shapes."""
    planted = set()
    for r in report["results"]:
        if (not r["mutant"] and r["verdict"] == "PASS" and r["dims"].get("is_shuffled") == "true"
                and r["dims"].get("gate_mode") == "interleave" and r["shape"].startswith("small-tp2")):
            r["verdict"] = "FAIL"
            r["metrics"]["nmse"] = 0.25
            r["hotspots"] = [{"expert": 1, "tile": 2, "share": 0.5}]
            r["message"] = "planted by the browser test"
            planted.add(r["id"])
    return planted


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mxguard", required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--cases", required=True, help="cases/default of the source tree")
    ap.add_argument("--work", required=True, help="scratch folder (emptied first)")
    ap.add_argument("--screenshots", required=True, help="folder for the PNGs")
    args = ap.parse_args(argv)
    if not shutil.which(args.chromium):
        print(f"browser_test.py: no Chromium at {args.chromium!r}; ci/setup installs Debian's chromium", file=sys.stderr)
        return 1
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shots = Path(args.screenshots)
    shots.mkdir(parents=True, exist_ok=True)
    browser = Browser(args.chromium, work)
    mxguard = args.mxguard
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    started = time.time()

    # 1. The matrix's own report.html.
    out = work / "matrix"
    run = subprocess.run([mxguard, "matrix", "--cases", args.cases, "--filter", "small-*", "--mutants", "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=600)
    check(run.returncode == 0, f"mxguard matrix exited {run.returncode}: {run.stderr[-2000:]}")
    check("report.html" in (out / "summary.md").read_text(), "summary.md does not name report.html")
    report = json.loads((out / "report.json").read_text())
    dom = open_page(browser, out / "report.html")
    check_matrix_page(dom, report, out / "report.html")
    check(dom.overall == "PASS", f"matrix page status {dom.overall!r}, expected PASS")
    check_replay(browser, dom, report, out / "report.html", mxguard, work)
    browser.screenshot(out / "report.html", shots / "report-matrix.png", 2600)

    # 2. Planted FAILs, merged from two shards, with a constructed history.
    planted = plant(report)
    check(len(planted) >= 2, f"only {len(planted)} results to plant FAILs in; the small cases changed")
    shard_a, shard_b = work / "planted" / "a", work / "planted" / "b"
    shard_a.mkdir(parents=True)
    shard_b.mkdir(parents=True)
    half = len(report["results"]) // 2
    # Like two --filter shards of one run: each its own results; the mutation score lives in one of them.
    for folder, part, mutants in ((shard_a, report["results"][:half], report["mutants"]),
                                  (shard_b, report["results"][half:], [])):
        (folder / "report.json").write_text(json.dumps({**report, "results": part, "mutants": mutants}))
    planted_sorted = sorted(planted)
    still_failing = planted_sorted[0]  # failed last night too: not new
    healed = next(r["id"] for r in report["results"] if not r["mutant"] and r["verdict"] == "PASS")
    nights = [
        {"time": "2026-12-01T03:00:00Z", "sha": "1111111", "verdict": "pass",
         "results": [{"name": "matrix hip gfx950", "result": "pass", "exit_code": 0, "summary": {}}]},
        {"time": "2026-12-02T03:00:00Z", "sha": "2222222", "verdict": "regression",
         "results": [{"name": "matrix hip gfx950", "result": "regression", "exit_code": 1, "seconds": 40,
                      "summary": {"counts": {"PASS": 70, "CAUGHT": 2000, "FAIL": 2, "BLIND": 0, "ERROR": 0, "SKIPPED": 0},
                                  "margin": 900.0, "wall_seconds": 38.0, "failing_total": 2,
                                  "failing": [{"id": still_failing, "verdict": "FAIL"}, {"id": healed, "verdict": "FAIL"}]}}]},
    ]
    history = work / "nightly.jsonl"
    history.write_text("".join(json.dumps(n) + "\n" for n in nights))
    page = work / "planted.html"
    run = subprocess.run([mxguard, "report", str(work / "planted"), "--history", str(history), "--out", str(page),
                          "--meta", "image=test-image:1"], capture_output=True, text=True, env=env, timeout=300)
    check(run.returncode == 0, f"mxguard report exited {run.returncode}: {run.stderr[-2000:]}")
    dom = open_page(browser, page)
    merged = {**report, "totals": dict(report["totals"])}
    merged["totals"]["counts"] = {v: sum(1 for r in report["results"] if not r["mutant"] and r["verdict"] == v) for v in SEVERITY}
    check_matrix_page(dom, merged, page)
    check(dom.overall == "REGRESSION", f"planted page status {dom.overall!r}, expected REGRESSION")
    rule = [text.split(" = ", 1) for verdict, role, text in dom.conds if verdict == "FAIL" and role == "rule"]
    check(rule, "the planted page shows no FAIL group rule")
    universe = [r for r in report["results"] if not r["mutant"] and r["verdict"] in ("PASS", "FAIL")]
    selected = {r["id"] for r in universe if all(attribute(r, name) == value for name, value in rule)}
    check(selected == planted, f"the FAIL group's rule {rule} selects {len(selected)} results, {len(planted)} were planted")
    check(dom.ids.get("since-new") == [str(len(planted) - 1)], f"new since last night: {dom.ids.get('since-new')}, "
          f"expected {len(planted) - 1}")
    check(dom.ids.get("since-fixed") == ["1"], f"fixed since last night: {dom.ids.get('since-fixed')}, expected 1")
    check(dom.trend_rows == len(nights) + 1, f"trend table has {dom.trend_rows} rows, expected {len(nights) + 1}")
    print(f"  {page.name}: FAIL group rule {rule} selects exactly the {len(planted)} planted results; "
          f"new {len(planted) - 1}, fixed 1, {dom.trend_rows} trend rows")
    browser.screenshot(page, shots / "report-planted.png", 2600)

    # 3. A probe against a collapsed stand-in.
    data = work / "questions.jsonl"
    subprocess.run([mxguard, "standin", "--make-data", "200", "--out", str(data)], check=True, timeout=60)
    standin = subprocess.Popen([mxguard, "standin", "--port", "0", "--data", str(data), "--accuracy", "0.21",
                                "--truncate-rate", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = standin.stdout.readline()
        url = re.search(r"http://[0-9.]+:[0-9]+", first)
        check(url is not None, f"mxguard standin did not say where it listens: {first!r}")
        probe_out = work / "probe-out"
        run = subprocess.run([mxguard, "probe", "--data", str(data), "--base-url", url.group(0), "--stop", "sprt",
                              "--out", str(probe_out)], capture_output=True, text=True, env=env, timeout=300)
        check(run.returncode == 1, f"mxguard probe at accuracy 0.21 exited {run.returncode}, expected 1: {run.stderr[-2000:]}")
    finally:
        standin.send_signal(signal.SIGTERM)
        standin.wait(timeout=30)
    probe = json.loads((probe_out / "probe.json").read_text())
    dom = open_page(browser, probe_out / "report.html")
    check(dom.overall == probe["verdict"] == "REGRESSION", f"probe page status {dom.overall!r}, probe.json {probe['verdict']}")
    shown = re.match(r"([0-9.]+) \((\d+) of (\d+)\)", dom.fields.get("accuracy", ""))
    check(shown is not None and abs(float(shown.group(1)) - probe["accuracy"]) <= 0.0005 + 1e-12
          and int(shown.group(2)) == probe["correct"] and int(shown.group(3)) == probe["answered"],
          f"probe accuracy shown {dom.fields.get('accuracy')!r}, probe.json {probe['accuracy']} "
          f"({probe['correct']} of {probe['answered']})")
    to_verdict = probe["sprt"]["observations"] if probe["sprt"] else probe["answered"]
    check(dom.fields.get("questions", "").startswith(str(to_verdict)),
          f"questions to verdict shown {dom.fields.get('questions')!r}, probe.json {to_verdict}")
    print(f"  probe report.html: {probe['verdict']}, accuracy {probe['accuracy']:.3f}, verdict after {to_verdict} questions")
    browser.screenshot(probe_out / "report.html", shots / "report-probe.png", 1400)

    print(f"browser_test.py: all pages render without console errors and match their inputs "
          f"({time.time() - started:.1f} s); screenshots in {shots}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print(f"browser_test.py: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
