#!/usr/bin/env bash
# Builds mxguard (default preset, host only) and runs the four cross-checks against code we did not
# write: transformers' GPT-OSS MoE (reference_vs_transformers.py), Python's safetensors
# (safetensors_roundtrip.py), the torch view/permute form of the layouts (layout_vs_torch.py) and
# `diagnose weights` on dumps that ci/tools/dump_moe_weights.py makes of a torch module (diagnose_vs_torch.py).
# Needs python3 with torch, transformers and safetensors (no GPU).
#   ci/crosscheck/run.sh [OUT_DIR] [--quick]
# The build needs the project's dependencies (fmt, CLI11, Eigen3, nlohmann_json, valijson, pugixml); where
# they are not installed, point CMake at them: MXG_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=/opt/valijson;/opt/pugixml".
# Env: MXG_JOBS (build jobs, default nproc), MXG_CMAKE_ARGS (extra configure arguments),
#      MXG_WORK (scratch folder, default a temporary one).
# Writes OUT_DIR/{configure,build,crosscheck,transformers_source}.log, one JSON per script and
# summary.json. Exit: 0 all pass, 1 a check failed, 3 build or tool failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-crosscheck-out}"
quick="${2:-}"
mkdir -p "$out"
work="${MXG_WORK:-$(mktemp -d -t mxguard-crosscheck-XXXXXX)}"
# shellcheck disable=SC2086
cmake --preset default -DMXG_BUILD_TESTS=OFF -DMXG_BUILD_BENCH=OFF ${MXG_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 ||
  { tail -30 "$out/configure.log"; exit 3; }
cmake --build --preset default -j "${MXG_JOBS:-$(nproc)}" --target mxguard >"$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 3; }
mxguard="$PWD/build/default/harness/mxguard"
export PYTHONUNBUFFERED=1
status=0
run_script() {  # name, then the script's extra arguments; keeps the worst status (3 > 1 > 0)
  local name="$1"; shift
  echo "== $name" | tee -a "$out/crosscheck.log"
  python3 "ci/crosscheck/$name.py" --mxguard "$mxguard" --work "$work/$name" --json "$out/$name.json" "$@" \
    2>&1 | tee -a "$out/crosscheck.log"
  local rc=${PIPESTATUS[0]}
  echo "== $name exit $rc" | tee -a "$out/crosscheck.log"
  if ((rc > status)); then status=$rc; fi
}
python3 ci/crosscheck/reference_vs_transformers.py --mxguard "$mxguard" --work "$work/source" --quick --show-source \
  >"$out/transformers_source.log" 2>&1 || true  # for the record: the transformers code compared against
run_script layout_vs_torch
run_script safetensors_roundtrip
run_script reference_vs_transformers $quick
run_script diagnose_vs_torch
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
parts = {n: json.load(open(os.path.join(out, n + ".json"))) for n in
         ("layout_vs_torch", "safetensors_roundtrip", "reference_vs_transformers", "diagnose_vs_torch")
         if os.path.exists(os.path.join(out, n + ".json"))}
summary = {n: {"passed": p["passed"], "failed": p["failed"]} for n, p in parts.items()}
json.dump({"scripts": summary, "details": parts}, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps(summary))
PY
exit "$status"
