#!/usr/bin/env bash
# Benchmark of the probe's HTTP client: requests per second against a zero-latency stand-in server
# at --parallel 64 and 256, side by side in one run with a Python-standard-library threaded client
# (py_threaded_client.py, the upstream benchmark's shape). Rounds alternate the two clients so machine
# noise hits both alike; the table reports each round and the median ratio. Both clients share the
# 2 cores with the server, so the table also gives each client's own CPU time per request (user + sys
# of the client process, startup included), which the server's cost does not cap.
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

cpu_us_per_request() {  # time file written by /usr/bin/time -f '%U %S'
  python3 -c 'import sys; u,s=open(sys.argv[1]).read().split()[-2:]; print(f"{(float(u)+float(s))*1e6/int(sys.argv[2]):.0f}")' "$1" "$questions"
}
mxguard_run() {  # parallel -> "req/s cpu_us"
  /usr/bin/time -f '%U %S' -o "$work/time" "$mxguard" probe --base-url "$url" --data "$work/data.jsonl" \
    --num-questions "$questions" --parallel "$1" --no-warmup --quiet --out "$work/probe-$1" >/dev/null
  rps=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["errors"]==0, s["errors"]; print(s["answered"]/s["wall_s"])' \
    "$work/probe-$1/probe.json")
  echo "$rps $(cpu_us_per_request "$work/time")"
}
python_run() {  # parallel -> "req/s cpu_us"
  rps=$(/usr/bin/time -f '%U %S' -o "$work/time" python3 "$here/py_threaded_client.py" --base-url "$url" \
    --data "$work/data.jsonl" --num-questions "$questions" --parallel "$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["failed"]==0, r; print(r["requests_per_s"])')
  echo "$rps $(cpu_us_per_request "$work/time")"
}

printf '%-9s %-6s %14s %14s %8s %16s %16s\n' parallel round "mxguard req/s" "python req/s" ratio \
  "mxguard cpu us/r" "python cpu us/r"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for p in 64 256; do
  ratios=() cpu_ratios=()
  for r in $(seq "$rounds"); do
    read -r m mc < <(mxguard_run "$p")
    read -r y yc < <(python_run "$p")
    ratio=$(python3 -c "print(f'{$m/$y:.2f}')")
    ratios+=("$ratio")
    cpu_ratios+=("$(python3 -c "print(f'{$yc/$mc:.2f}')")")
    printf '%-9s %-6s %14.0f %14.0f %8s %16s %16s\n' "$p" "$r" "$m" "$y" "$ratio" "$mc" "$yc"
  done
  echo "parallel $p: median throughput ratio mxguard / python = $(printf '%s\n' "${ratios[@]}" | median);" \
    "median client CPU per request python / mxguard = $(printf '%s\n' "${cpu_ratios[@]}" | median)"
done
