#!/usr/bin/env bash
# Builds mxguard (default preset) and runs the cross-checks against transformers, Python's
# safetensors and a torch view/permute form of the AITER shuffle (transformers_moe.py), on a
# machine with PyTorch and transformers (the lent GPU machine; no GPU needed).
#   ci/crosscheck/crosscheck.sh [OUT_DIR]   (MXG_CMAKE_ARGS: extra configure arguments)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-crosscheck-out}"
mkdir -p "$out"
# shellcheck disable=SC2086
cmake --preset default -DMXG_BUILD_TESTS=OFF -DMXG_BUILD_BENCH=OFF ${MXG_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 ||
  { tail -30 "$out/configure.log"; exit 3; }
cmake --build --preset default -j "${MXG_JOBS:-$(nproc)}" --target mxguard >"$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 3; }
python3 ci/crosscheck/transformers_moe.py --mxguard build/default/harness/mxguard --work "$out/work" \
  --json "$out/crosscheck.json"
