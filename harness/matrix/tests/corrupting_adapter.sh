#!/bin/sh
# Test-only external-protocol adapter for harness/matrix/tests: mxguard's host backend with one
# output element overwritten afterwards — a kernel that reads every layout right but computes a
# wrong number. Every derived-consistent combination run through it must come out FAIL.
#   MXGUARD=path/to/mxguard corrupting_adapter.sh IN OUT
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: MXGUARD=... $0 IN OUT" >&2
  exit 2
fi
out=$2
"${MXGUARD:?set MXGUARD to the mxguard binary}" kernel run --backend host --in "$1" --out "$out"

# safetensors: an 8-byte little-endian header length N, N bytes of JSON header, then the data. y is
# the only tensor in the file, so its first element starts right after the header.
header_len=0
weight=1
for byte in $(od -An -tu1 -N8 "$out"); do
  header_len=$((header_len + byte * weight))
  weight=$((weight * 256))
done
# y[0, 0] := BF16 0x4780 (65536.0), far outside any tolerance next to outputs of order 1; stored
# little-endian as the bytes 0x80 0x47 (octal 200 107).
printf '\200\107' | dd of="$out" bs=1 seek=$((8 + header_len)) conv=notrunc status=none
