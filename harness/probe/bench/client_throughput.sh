#!/usr/bin/env bash
# Benchmark of the probe's HTTP client: requests per second against a zero-latency stand-in server
# at --parallel 64 and 256, side by side in one run with a Python-standard-library threaded client
# (py_threaded_client.py, the upstream benchmark's shape). Rounds alternate the two clients so machine
# noise hits both alike; the table reports each round and the median ratio.
#
# usage: harness/probe/bench/client_throughput.sh [MXGUARD] [QUESTIONS] [ROUNDS]
#   MXGUARD   the binary (default build/default/harness/mxguard)
#   QUESTIONS requests per measurement (default 4000)
#   ROUNDS    alternations per parallelism (default 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mxguard=${1:-build/default/harness/mxguard}
questions=${2:-4000}
rounds=${3:-3}
[[ -x $mxguard ]] || { echo "client_throughput.sh: $mxguard is not an executable (build it first)" >&2; exit 2; }
work=$(mktemp -d)
standin_pid=""
cleanup() {
  [[ -n $standin_pid ]] && kill "$standin_pid" 2>/dev/null && wait "$standin_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$mxguard" standin --make-data "$questions" --seed 1 --out "$work/data.jsonl"
"$mxguard" standin --port 0 --data "$work/data.jsonl" --accuracy 0.9 --threads 600 >"$work/standin.out" 2>"$work/standin.err" &
standin_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/standin.out" 2>/dev/null && break
  sleep 0.1
done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/standin.out" | head -1)
[[ -n $url ]] || { echo "client_throughput.sh: the stand-in did not start:" >&2; cat "$work/standin.err" >&2; exit 3; }
echo "stand-in at $url, $questions requests per measurement, $(nproc) cores"

mxguard_rps() {  # parallel
  "$mxguard" probe --base-url "$url" --data "$work/data.jsonl" --num-questions "$questions" --parallel "$1" \
    --no-warmup --quiet --out "$work/probe-$1" >/dev/null
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["errors"]==0, s["errors"]; print(s["answered"]/s["wall_s"])' \
    "$work/probe-$1/probe.json"
}
python_rps() {  # parallel
  python3 "$here/py_threaded_client.py" --base-url "$url" --data "$work/data.jsonl" --num-questions "$questions" \
    --parallel "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["failed"]==0, r; print(r["requests_per_s"])'
}

printf '%-9s %-6s %14s %14s %8s\n' parallel round "mxguard req/s" "python req/s" ratio
for p in 64 256; do
  ratios=()
  for r in $(seq "$rounds"); do
    m=$(mxguard_rps "$p")
    y=$(python_rps "$p")
    ratio=$(python3 -c "print(f'{$m/$y:.2f}')")
    ratios+=("$ratio")
    printf '%-9s %-6s %14.0f %14.0f %8s\n' "$p" "$r" "$m" "$y" "$ratio"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "parallel $p: median ratio mxguard / python = $median"
done
