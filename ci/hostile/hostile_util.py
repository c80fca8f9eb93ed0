"""Helpers of the hostile-input suite: run the mxguard binary with a wall-clock bound, make hostile
files (deep JSON, FIFOs, huge safetensors headers), start the stand-in and tiny hostile HTTP servers.
Standard library only."""
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MXGUARD = os.environ.get("MXGUARD", "mxguard")
DEPTH = 100_000  # the nesting that overflowed the stack of every JSON reader (C1)


def deep_json(key="detail", depth=DEPTH):
    return '{"%s":' % key + "[" * depth + "]" * depth + "}"


def run(args, timeout=60, env=None, **kw):
    """Runs mxguard; returns CompletedProcess. A hang past `timeout` is a test failure, not a wait."""
    full_env = dict(os.environ)
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    if env:
        full_env.update(env)
    start = time.monotonic()
    try:
        p = subprocess.run([MXGUARD, *args], capture_output=True, text=True, timeout=timeout, env=full_env, **kw)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"mxguard {' '.join(args)[:200]} still running after {timeout} s (a hang)")
    p.seconds = time.monotonic() - start
    return p


def safetensors_bytes(header, data=b""):
    text = json.dumps(header).encode() if not isinstance(header, (bytes, str)) else (
        header.encode() if isinstance(header, str) else header)
    return struct.pack("<Q", len(text)) + text + data


def f64_tensor_file(path, tensors):
    """tensors: name -> (dtype, shape, raw bytes)."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    with open(path, "wb") as f:
        f.write(safetensors_bytes(header, data))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Standin:
    """`mxguard standin` on a free port for the duration of a with-block."""

    def __init__(self, *extra):
        self.extra = extra

    def __enter__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([MXGUARD, "standin", "--port", str(self.port), *self.extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            self.proc.kill()
            raise AssertionError(f"standin did not start: {line!r} {self.proc.stderr.read()[-500:]}")
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def alive(self):
        return self.proc.poll() is None

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


class HostileServer:
    """A tiny HTTP server whose every answer is `respond(handler)`; runs in a thread."""

    def __init__(self, respond):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                respond(self)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                self.body = self.rfile.read(n)
                respond(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def answer(handler, status, body, headers=()):
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(data)


class HostileCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mxg-hostile-")
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        return p

    def fifo(self, name):
        p = self.path(name)
        os.mkfifo(p)
        return p

    def data_file(self, n=500):
        p = self.path("data.jsonl")
        if not os.path.exists(p):
            r = run(["standin", "--make-data", str(n), "--out", p])
            self.assertEqual(r.returncode, 0, r.stderr)
        return p

    def assert_input_error(self, r, *needles, code=2):
        """Exit `code`, one line of stderr naming what is wrong, no crash."""
        self.assertEqual(r.returncode, code, f"exit {r.returncode}; stderr: {r.stderr[-600:]}")
        err = r.stderr.strip().splitlines()
        self.assertTrue(err, "no message on stderr")
        last = err[-1]
        self.assertLess(len(last), 600, f"error line too long: {last[:300]}...")
        for n in needles:
            self.assertIn(n, last)
