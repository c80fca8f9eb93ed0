#!/bin/sh
# The "serving stack" whose history ci/tests/bisect_test.sh bisects: an external-protocol adapter
# that hands the problem to mxguard's host backend as the file describes it. Commit 7 of the
# test's throwaway history makes it force the separated gate mode, a gate/up layout bug.
#   MXGUARD=path/to/mxguard adapter.sh IN OUT
set -eu
exec "${MXGUARD:?set MXGUARD to the mxguard binary}" kernel run --backend host --in "$1" --out "$2"
