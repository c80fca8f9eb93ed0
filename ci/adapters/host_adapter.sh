#!/bin/sh
# External-protocol adapter that runs mxguard's own host backend: exercises the protocol end to
# end (problem file out, command, y back) without a GPU. Used by kernels/backend/tests.
#   host_adapter.sh IN OUT      (the mxguard binary is $MXGUARD, else the one on PATH)
#   mxguard kernel run --backend external --in case.safetensors --out y.safetensors \
#       --kernel-cmd 'MXGUARD=build/default/harness/mxguard ci/adapters/host_adapter.sh {in} {out}'
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: $0 IN OUT" >&2
  exit 2
fi
exec "${MXGUARD:-mxguard}" kernel run --backend host --in "$1" --out "$2"
