#!/usr/bin/env python3
# External-protocol adapter (v1 and v2) in Python that runs mxguard's own host backend: the protocol end to end without a GPU.
"""mxguard's host backend behind the Python adapter helper (mxguard_adapter.py).

    python3 ci/adapters/host_adapter.py IN OUT       # protocol v1: one problem, then exit
    python3 ci/adapters/host_adapter.py --worker     # protocol v2: a persistent worker

    mxguard matrix --backend external --kernel-worker 'python3 ci/adapters/host_adapter.py --worker'

It stands in for a real kernel adapter (ci/adapters/aiter_fused_moe.py) wherever there is no GPU: the
docs' commands, the tests and the v1-vs-v2 benchmark (ci/adapters/bench/worker_bench.py) run it. At
set-up it starts one `mxguard kernel worker --backend host` child (the mxguard binary is $MXGUARD, else
the one on PATH) and hands it every problem, so in --worker mode both processes live for the whole run.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxguard_adapter as mx  # noqa: E402


class HostWorker:
    """A `mxguard kernel worker --backend host` child, spoken to with protocol v2."""

    def __init__(self, mxguard: str, threads: int):
        try:
            self.proc = subprocess.Popen([mxguard, "kernel", "worker", "--backend", "host", "--threads", str(threads)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as e:
            raise mx.AdapterError(f"cannot start {mxguard} ({e.strerror}); set MXGUARD to the mxguard binary",
                                  mx.EXIT_ENVIRONMENT) from e
        self.hello = self._read("hello")
        if self.hello.get("protocol") != mx.WORKER_PROTOCOL:
            raise mx.AdapterError(f"{mxguard} kernel worker speaks {self.hello.get('protocol')!r}, expected "
                                  f"{mx.WORKER_PROTOCOL!r}", mx.EXIT_ENVIRONMENT)

    def _read(self, what: str) -> dict:
        line = self.proc.stdout.readline(mx.MAX_LINE_BYTES + 1)
        if not line:
            raise mx.AdapterError(f"mxguard kernel worker exited (status {self.proc.wait()}) before its {what}",
                                  mx.EXIT_ENVIRONMENT)
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise mx.AdapterError(f"mxguard kernel worker answered garbage instead of its {what}: {line[:200]!r}",
                                  mx.EXIT_ENVIRONMENT)
        return message

    def close(self) -> None:
        """End of input for the child, which then exits; waited for so no process is left behind."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()

    def run(self, problem_path: str, output_path: str, problem_id: str) -> None:
        request = {"type": "run", "id": problem_id, "problem": problem_path, "output": output_path}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise mx.AdapterError(f"mxguard kernel worker exited (status {self.proc.wait()})",
                                  mx.EXIT_ENVIRONMENT) from None
        answer = self._read("answer")
        if answer.get("status") != "ok":
            code = mx.EXIT_ENVIRONMENT if answer.get("fatal") else mx.EXIT_INPUT
            raise mx.AdapterError(f"mxguard kernel worker: {answer.get('message', answer)}", code)


def make_adapter(mxguard: str, threads: int) -> mx.Adapter:
    state: dict = {}
    scratch = tempfile.TemporaryDirectory(prefix="host-adapter-")

    def setup() -> mx.Ready:
        worker = HostWorker(mxguard, threads)
        state["worker"] = worker
        atexit.register(worker.close)
        versions = {"python": platform.python_version()}
        versions.update(worker.hello.get("versions", {}))
        return mx.Ready(device=worker.hello.get("device", ""), versions=versions,
                        kernel_version=worker.hello.get("kernel", ""))

    def run(problem: mx.Problem) -> mx.Tensor:
        out = os.path.join(scratch.name, "y.safetensors")
        state["worker"].run(problem.path, out, problem.id)
        y_file = mx.SafetensorsFile(out)
        try:
            y = y_file.tensor("y")
            result = mx.Tensor(y.dtype, y.shape, bytes(y.data))
        finally:
            y_file.close()
            os.remove(out)
        return result

    adapter = mx.Adapter(run, kernel="mxguard host backend (Python adapter)", setup=setup, name="host_adapter.py")
    adapter.scratch = scratch  # lives as long as the adapter
    return adapter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="host_adapter.py",
        description="mxguard external-backend adapter running mxguard's host backend (no GPU): 'IN OUT' runs one "
                    "problem (protocol v1), --worker serves requests (protocol v2). The mxguard binary is $MXGUARD, "
                    "else the one on PATH.",
        epilog="examples:\n"
               "  mxguard matrix --backend external --kernel-worker 'python3 ci/adapters/host_adapter.py --worker'\n"
               "  mxguard matrix --backend external --kernel-cmd 'python3 ci/adapters/host_adapter.py {in} {out}'",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mx.add_protocol_arguments(parser)
    parser.add_argument("--threads", type=int, default=0, metavar="N", help="host backend threads (0: all cores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return mx.dispatch(make_adapter(os.environ.get("MXGUARD", "mxguard"), args.threads), parser, args)


if __name__ == "__main__":
    sys.exit(main())
