#!/usr/bin/env python3
# A persistent-worker adapter (protocol v2) that misbehaves on chosen result ids: the matrix's worker restart tests.
"""ci/adapters/host_adapter.py, but on a combination whose id matches a glob it

  --crash-on GLOB     dies at once (SIGKILL, as a GPU fault ends a process)
  --hang-on GLOB      never answers
  --garbage-on GLOB   writes a line that is not the protocol on the protocol's stdout, then answers
  --leak-on GLOB      allocates and keeps --leak-mib MiB (touched, so resident), then answers
  --error-on GLOB     answers with an error (the worker goes on)

Everything else is answered correctly by mxguard's host backend, so a matrix run over it must show
exactly one ERROR per chosen id and PASS or CAUGHT everywhere else. Faults happen once per id and
process: a restarted worker meets a given id again only if mxguard sends it again.
  mxguard matrix --backend external --kernel-worker 'python3 fault_adapter.py --worker --crash-on "*flag=0*"'
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "ci", "adapters"))
import host_adapter  # noqa: E402
import mxguard_adapter as mx  # noqa: E402

LEAKED: list[bytes] = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fault_adapter.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mx.add_protocol_arguments(parser)
    for fault in ("crash", "hang", "garbage", "leak", "error"):
        parser.add_argument(f"--{fault}-on", default=None, metavar="GLOB")
    parser.add_argument("--leak-mib", type=int, default=256)
    args = parser.parse_args(argv)

    adapter = host_adapter.make_adapter(os.environ.get("MXGUARD", "mxguard"), threads=1)
    honest_run = adapter.run

    def chosen(glob: str | None, problem_id: str) -> bool:
        return glob is not None and fnmatch.fnmatchcase(problem_id, glob)

    def run(problem: mx.Problem) -> mx.Tensor:
        if chosen(args.crash_on, problem.id):
            print(f"fault_adapter: crashing on {problem.id}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        if chosen(args.hang_on, problem.id):
            print(f"fault_adapter: hanging on {problem.id}", file=sys.stderr, flush=True)
            time.sleep(3600)
        if chosen(args.garbage_on, problem.id) and mx.PROTOCOL_FD is not None:
            os.write(mx.PROTOCOL_FD, b"Warning: kernel cache miss, compiling...\n")
        if chosen(args.leak_on, problem.id):
            LEAKED.append(b"x" * (args.leak_mib << 20))
        if chosen(args.error_on, problem.id):
            raise mx.AdapterError(f"no kernel for {problem.id}", mx.EXIT_INPUT)
        return honest_run(problem)

    adapter.run = run
    adapter.kernel = "fault adapter over the host backend"
    return mx.dispatch(adapter, parser, args)


if __name__ == "__main__":
    sys.exit(main())
