#!/usr/bin/env bash
# GPU benchmark and correctness run, for a machine with an NVIDIA (nvcc) or AMD (hipcc) GPU:
#  1. builds the `cuda` (or, with MXG_GPU=hip, the `hip`) preset;
#  2. runs the GPU tests (label gpu: every read path against the double reference at GPT-OSS-20b
#     TP 1 and GPT-OSS-120b TP 8 shapes);
#  3. times the fused-MoE kernels on the GPT-OSS-120b layer (H = I = 2880, E = 128, top-4) at
#     T = 1, 4, 16 (decode) and 512, 4096 (prefill): bandwidth over the routed experts' weight bytes
#     against the GPU's peak, beside the PyTorch baseline (ci/gpu/torch_baseline.py) in the same run;
#  4. prints a Markdown table (also OUT/bench.md) and keeps the raw JSON lines (OUT/*.jsonl);
#  5. times the default matrix on the GPU backend (`mxguard matrix --backend hip`, every core a
#     persistent worker on the one GPU) and, side by side in alternating rounds, the GPU backend as a
#     persistent worker against a `kernel run` process per combination (OUT/matrix-hip.md,
#     OUT/worker-bench-gpu.md). MXG_BENCH_SKIP_MATRIX=1 leaves step 5 out.
#   ci/gpu/bench.sh [OUT_DIR]     (default: gpu-bench-out; MXG_JOBS sets build parallelism)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-gpu-bench-out}"
mkdir -p "$out"
preset="${MXG_GPU:-cuda}"
jobs="${MXG_JOBS:-$(nproc)}"
tokens="${MXG_BENCH_TOKENS:-1,4,16,512,4096}"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "configure and build ($preset)"
# MXG_CMAKE_ARGS: extra configure arguments, e.g. -DCMAKE_PREFIX_PATH=… for a header-only package
# installed outside the system prefix.
# shellcheck disable=SC2086
cmake --preset "$preset" -DMXG_BUILD_BENCH=ON ${MXG_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 || { cat "$out/configure.log"; exit 3; }
cmake --build --preset "$preset" -j "$jobs" >"$out/build.log" 2>&1 || { tail -50 "$out/build.log"; exit 3; }

step "GPU tests"
ctest --test-dir "build/$preset" -L gpu --output-on-failure 2>&1 | tee "$out/gpu-tests.log" | tail -25

step "mxguard kernels"
rm -f "$out/mxguard.jsonl" "$out/torch.jsonl"
"build/$preset/kernels/hip/mxg_gpu_bench" --tokens "$tokens" --json "$out/mxguard.jsonl"

step "PyTorch baseline"
python3 ci/gpu/torch_baseline.py --tokens "$tokens" --json "$out/torch.jsonl"

step "table"
python3 - "$out/mxguard.jsonl" "$out/torch.jsonl" <<'PY' | tee "$out/bench.md"
import json, sys
ours = {r["tokens"]: r for r in map(json.loads, open(sys.argv[1]))}
torch = {r["tokens"]: r for r in map(json.loads, open(sys.argv[2]))}
any_row = next(iter(ours.values()))
print(f"GPT-OSS-120b MoE layer (H = I = 2880, E = 128, top-4) on {any_row['device']}, "
      f"peak {any_row['peak_tbps']:.2f} TB/s; median of timed runs.\n")
print("| T | experts read | mxguard kernel | bandwidth | % of peak | PyTorch baseline | speed-up |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for t in sorted(ours):
    o, p = ours[t], torch.get(t)
    base = f"{p['median_us']:.0f} µs" if p else "n/a"
    ratio = f"{p['median_us'] / o['median_us']:.1f}×" if p else "n/a"
    print(f"| {t} | {o['distinct_experts']:.0f} | {o['median_us']:.0f} µs ({o['family']}) | "
          f"{o['bandwidth_tbps']:.2f} TB/s | {o['percent_of_peak']:.0f} % | {base} | {ratio} |")
PY

[[ "${MXG_BENCH_SKIP_MATRIX:-0}" == 1 ]] && exit 0
step "default matrix on the GPU backend"
mxguard="build/$preset/harness/mxguard"
rm -rf "$out/matrix-hip"
start=$(date +%s.%N)
rc=0
"$mxguard" matrix --backend hip --out "$out/matrix-hip" >"$out/matrix-hip.log" 2>&1 || rc=$?
end=$(date +%s.%N)
python3 - "$out/matrix-hip/report.json" "$start" "$end" "$rc" "$(nproc)" <<'PY' | tee "$out/matrix-hip.md"
import json, sys
totals = json.load(open(sys.argv[1]))["totals"]["counts"]
wall = float(sys.argv[3]) - float(sys.argv[2])
n = sum(totals.values())
print(f"default matrix, --backend hip, {sys.argv[5]} jobs on one GPU: {n} combinations in {wall:.1f} s "
      f"({n / wall:.0f}/s), exit {sys.argv[4]}; " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
PY

step "GPU backend: a process per combination vs a persistent worker"
python3 ci/adapters/bench/worker_bench.py --set gpu --mxguard "$mxguard" --rounds 3 | tee "$out/worker-bench-gpu.md"
