#!/usr/bin/env bash
# Acceptance test of ci/bisect: `git bisect run` over a throwaway 12-commit history whose adapter
# gets a gate/up layout bug at commit 7 (and fails to build at commit 9) must name commit 7; and
# infrastructure, bad input and a missing mxguard must abort (129), never mark a commit bad.
#   bisect_test.sh MXGUARD_BINARY REPO_ROOT
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 MXGUARD_BINARY REPO_ROOT" >&2
  exit 2
fi
mxguard=$(readlink -f -- "$1")
root=$(readlink -f -- "$2")
bisect=$root/ci/bisect
fixture=$root/ci/tests/bisect_fixture

work=$(mktemp -d "${TMPDIR:-/tmp}/mxguard-bisect-test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
repo=$work/repo
out=$work/out  # mxguard's reports: outside the repository, so checkouts stay clean

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_status() {  # expect_status WANT GOT WHAT
  if [[ "$2" == "$1" ]]; then echo "ok: $3 -> $2"; else fail "$3: expected exit $1, got $2"; fi
}

# Hermetic git: no user or system configuration (signing, hooks, default branch) leaks in.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
# The adapter must get mxguard from ci/bisect (--mxguard, exported as MXGUARD), not from here.
unset MXGUARD

# --- the throwaway history ------------------------------------------------------------------------
git init -q "$repo"
cd "$repo"
git config user.name "bisect test"
git config user.email "bisect-test@localhost"
cp "$fixture/adapter.sh" "$fixture/tiny.json" .
echo 1 >VERSION

declare -a sha  # sha[N]: commit N
commit() {  # commit N MESSAGE
  git add -A
  git commit -q -m "$2"
  sha[$1]=$(git rev-parse HEAD)
}
commit 1 "adapter: hand problems to the host backend"
echo 2 >VERSION; commit 2 "version 2"
echo "# Reads the problem file's gate_mode and is_shuffled as given." >>adapter.sh
commit 3 "adapter: comment"
echo 3 >VERSION; commit 4 "version 3"
echo "The adapter of this repository." >README; commit 5 "readme"
echo "# Tested with mxguard's external protocol version 1." >>adapter.sh
commit 6 "adapter: comment"
# The bug: the kernel is told to read w13 as separated gate/up halves whatever the loader wrote.
sed -i 's/kernel run --backend host/kernel run --backend host --gate-mode separated/' adapter.sh
grep -q -- '--gate-mode separated' adapter.sh || { echo "test setup: the bug was not planted" >&2; exit 2; }
commit 7 "adapter: pass the gate mode explicitly"
echo "# Exit status: that of the kernel." >>adapter.sh
commit 8 "adapter: comment"
# Commit 9 does not build (the check `bash -n` fails), commit 10 repairs it. Bisecting 1..12, git
# tests 6 (good) and then 9, so the skip is exercised on the way to 7 (a build failure placed
# before 6 would never be visited).
echo "if true; then" >>adapter.sh
commit 9 "adapter: start a refactor (does not parse)"
sed -i '$d' adapter.sh
commit 10 "adapter: finish the refactor"
echo 4 >VERSION; commit 11 "version 4"
echo 5 >VERSION; commit 12 "version 5"

# The check: both derived-consistent combinations of the interleaved gate mode and one of the
# separated gate mode. Forcing separated reads breaks the interleaved ones (FAIL, exit 1).
build='bash -n adapter.sh'
consistent="--filter '*/wshuf=interleaved-tiles/sshuf=interleaved/flag=1/gate=interleave/pad=correct'"
consistent+=" --filter '*/prep=deinterleaved/wshuf=separated-tiles/sshuf=separated/flag=1/gate=separated/pad=correct'"
check="matrix --cases tiny.json --out '$out' --backend external --kernel-cmd 'sh adapter.sh {in} {out}' $consistent"

# --- the bisect -------------------------------------------------------------------------------------
start=$SECONDS
git bisect start "${sha[12]}" "${sha[1]}" >/dev/null
bisect_status=0
git bisect run "$bisect" --mxguard "$mxguard" --build "$build" --check "$check" \
  >"$work/bisect.out" 2>&1 || bisect_status=$?
git bisect log >"$work/bisect.log"
git bisect reset >/dev/null 2>&1
echo "git bisect run: exit $bisect_status in $((SECONDS - start)) s"
expect_status 0 "$bisect_status" "git bisect run"

named=$(sed -n 's/^\([0-9a-f]\{40\}\) is the first bad commit$/\1/p' "$work/bisect.out")
if [[ "$named" == "${sha[7]}" ]]; then
  echo "ok: git bisect names commit 7 (${sha[7]:0:10}) as the first bad commit"
else
  fail "expected commit 7 (${sha[7]}) as the first bad commit, git bisect named '${named:-nothing}'"
fi
# The commit that does not build was tested and skipped, not judged.
if grep -q "^git bisect skip ${sha[9]}" "$work/bisect.log"; then
  echo "ok: commit 9 (build fails) was skipped"
else
  fail "commit 9 (build fails) was not skipped"
fi
# Every step was logged inside the git dir, and the checkout stayed clean.
log=$repo/.git/mxguard-bisect.log
grep -q "ci/bisect: ${sha[9]:0:7}[0-9a-f]* build: failed (exit [0-9]*, [0-9.]* s) -> skip (125)" "$log" \
  || fail "the log lacks commit 9's failed build"
grep -q "ci/bisect: ${sha[7]:0:7}[0-9a-f]* check: mxguard matrix .* -> exit 1 (regression) ([0-9.]* s) -> bad (1)" "$log" \
  || fail "the log lacks commit 7's regression"
grep -q -- "-> good (0)" "$log" || fail "the log has no good step"
[[ -z "$(git status --porcelain)" ]] || fail "the checkout is dirty: $(git status --porcelain | head -3)"

# --- single steps: what must abort or skip rather than mark bad ----------------------------------------
run_step() {  # run_step ARGS... : ci/bisect's exit status at HEAD (commit 12)
  local status=0
  "$bisect" "$@" >>"$work/steps.out" 2>&1 || status=$?
  echo "$status"
}
expect_status 1 "$(run_step --mxguard "$mxguard" --build "$build" --check "$check")" "commit 12 (regression)"
git checkout -q "${sha[6]}"
expect_status 0 "$(run_step --mxguard "$mxguard" --build "$build" --check "$check")" "commit 6 (healthy)"
git checkout -q "${sha[9]}"
expect_status 125 "$(run_step --mxguard "$mxguard" --build "$build" --check "$check")" "commit 9 (build fails)"
git checkout -q "${sha[6]}"

# The same check in the `--` form, from a subdirectory, via a relative path to ci/bisect.
mkdir -p sub
relative_status=$(
  cd sub
  status=0
  "$(realpath --relative-to=. "$bisect")" --mxguard "$mxguard" -- matrix --cases ../tiny.json --out "$out" \
    --backend external --kernel-cmd 'sh ../adapter.sh {in} {out}' \
    --filter '*/wshuf=interleaved-tiles/sshuf=interleaved/flag=1/gate=interleave/pad=correct' \
    >>"$work/steps.out" 2>&1 || status=$?
  echo "$status"
)
expect_status 0 "$relative_status" "relative path, -- form, from a subdirectory"
rmdir sub

# Infrastructure: the kernel command does not exist -> mxguard exit 3 -> abort, or skip if asked.
infra="matrix --cases tiny.json --out '$out' --backend external --kernel-cmd 'no-such-adapter {in} {out}' $consistent"
expect_status 129 "$(run_step --mxguard "$mxguard" --check "$infra")" "infrastructure failure"
expect_status 125 "$(run_step --mxguard "$mxguard" --infra-skip --check "$infra")" "infrastructure failure, --infra-skip"
# A check past --timeout is infrastructure too (mxguard stops after the combinations in flight).
slow="matrix --cases tiny.json --out '$out' --backend external --jobs 1 --kernel-cmd 'sleep 2; sh adapter.sh {in} {out}' $consistent"
expect_status 125 "$(run_step --mxguard "$mxguard" --infra-skip --timeout 0.5 --check "$slow")" "timeout, --infra-skip"
grep -q "exit 124 (timed out after 0.5 s: infrastructure)" "$repo/.git/mxguard-bisect.log" \
  || fail "the timeout was not logged as one"

# Bad input or usage of mxguard: abort, never bad.
expect_status 129 "$(run_step --mxguard "$mxguard" --check "matrix --cases no-such-case.json")" "missing case file (mxguard exit 2)"
expect_status 129 "$(run_step --mxguard "$mxguard" --check "matrix --no-such-option")" "unknown mxguard option (mxguard exit 2)"

# A missing or unusable mxguard, or a bad invocation of ci/bisect: 129, never 126/127.
expect_status 129 "$(run_step --mxguard "$work/no-such-mxguard" --check "$check")" "missing mxguard"
expect_status 129 "$(run_step --mxguard "$repo/tiny.json" --check "$check")" "mxguard not executable"
expect_status 129 "$(PATH=/usr/bin:/bin run_step --check "$check")" "no --mxguard, no \$MXGUARD, none on PATH"
expect_status 129 "$(run_step --mxguard "$mxguard")" "no check"
expect_status 129 "$(run_step --mxguard "$mxguard" --check "matrix --cases 'tiny.json")" "unbalanced quote in --check"
expect_status 129 "$(run_step --mxguard "$mxguard" --check "$check" --bogus)" "unknown ci/bisect option"
expect_status 129 "$(run_step --mxguard "$mxguard" --timeout soon --check "$check")" "bad --timeout"
expect_status 129 "$(run_step --mxguard "$mxguard" --timeout 0 --check "$check")" "--timeout 0 (would mean no limit)"
# $MXGUARD names the binary when --mxguard is absent.
expect_status 0 "$(MXGUARD=$mxguard run_step --check "$check")" "mxguard from \$MXGUARD (commit 6)"

if ((failures)); then
  echo "--- git bisect run output" >&2; cat "$work/bisect.out" >&2
  echo "--- single steps" >&2; tail -n 40 "$work/steps.out" >&2
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all ci/bisect checks passed ($SECONDS s)"
