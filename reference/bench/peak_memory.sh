#!/usr/bin/env bash
# Peak resident memory and wall time of `mxguard reference` on a GPT-OSS-120b-sized layer
# (H = I = 2880, E = 128, k = 4; 1.6 GB of MXFP4 expert weights), for decode and prefill token
# counts. The checkpoint is memory-mapped, so only routed experts' pages are touched, and at most
# one dequantised block of rows per worker exists at a time (reference/moe_forward.hpp).
#   reference/bench/peak_memory.sh [BUILD_DIR] [TOKENS...]   (defaults: build/default, 1 128 2048)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build/default}"
shift || true
tokens=("$@")
[ ${#tokens[@]} -gt 0 ] || tokens=(1 128 2048)
for tool in "$build/reference/bench/write_synthetic_layer" "$build/harness/mxguard"; do
  [ -x "$tool" ] || { echo "peak_memory.sh: $tool not built (cmake --build --preset default)" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "| T | routed experts | wall s | peak RSS MiB |"
echo "|---:|---:|---:|---:|"
for t in "${tokens[@]}"; do
  "$build/reference/bench/write_synthetic_layer" "$work/layer" "$t"
  /usr/bin/time -f '%e %M' -o "$work/time" \
    "$build/harness/mxguard" reference --checkpoint "$work/layer/model.safetensors" --layer 0 \
    --hidden "$work/layer/hidden.safetensors" --out "$work/y.safetensors" >/dev/null
  read -r wall rss_kib <"$work/time"
  # compare lists one attribution entry per routed expert (it reads topk_ids beside y).
  experts="$("$build/harness/mxguard" compare "$work/y.safetensors" "$work/y.safetensors" --tensor y --json |
    grep -c '"expert":')"
  echo "| $t | $experts | $wall | $((rss_kib / 1024)) |"
done
