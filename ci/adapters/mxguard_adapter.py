#!/usr/bin/env python3
# Helper for mxguard external-backend adapters: write one run(problem) -> y, get protocol v1 and v2.
"""Write an mxguard adapter as one function and get both protocol versions.

mxguard's ``external`` backend (kernels/backend/EXTERNAL_PROTOCOL.md) talks to a kernel it cannot link
in one of two ways:

* version 1, ``--kernel-cmd 'python3 adapter.py {in} {out}'``: one process per combination;
* version 2, ``--kernel-worker 'python3 adapter.py --worker'``: one long-lived process that answers one
  JSON request per line on stdin/stdout, so imports, JIT compilation and device set-up happen once.

An adapter built on this module states its kernel once::

    import mxguard_adapter as mx

    def run(problem: mx.Problem) -> mx.Tensor:
        c = problem.contract              # gate_mode, is_shuffled, pads, sizes
        hidden = problem.tensor("hidden")  # dtype, shape and the raw little-endian bytes
        ...
        return mx.Tensor("BF16", (c.tokens, c.hidden_size), y_bytes)

    if __name__ == "__main__":
        sys.exit(mx.main(mx.Adapter(run, kernel="my-kernel", kernel_version="1.0")))

Everything here is the Python standard library: a bounded safetensors reader (memory-mapped, header
validated) and writer, the problem-file contract checks, and the v2 loop. An adapter that produces
torch tensors passes its own ``write_output`` (e.g. ``safetensors.torch.save_file``).

Exit statuses (v1, and v2 when set-up fails): 0 ok, 2 bad arguments or a problem the adapter cannot
honour, 3 environment (a missing library or device, the kernel raised).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import mmap
import os
import struct
import sys
import traceback
from typing import Any, Callable, Optional

PROTOCOL_VERSION = "1"                 # the problem file's mxguard.protocol
WORKER_PROTOCOL = "mxguard-worker/2"   # the v2 hello's protocol
WORKER_PROTOCOL_ENV = "MXGUARD_WORKER_PROTOCOL"
MAX_LINE_BYTES = 64 * 1024             # every v2 message is far smaller; longer is a broken peer
MAX_HEADER_BYTES = 64 << 20            # a safetensors header larger than this is not something mxguard writes
EXIT_OK, EXIT_INPUT, EXIT_ENVIRONMENT = 0, 2, 3

DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}

# One E8M0 scale per 32 E2M1 elements (OCP MX v1.0); two E2M1 codes per byte.
MX_BLOCK = 32

# Tensor name -> (dtype, rank, what it holds) per EXTERNAL_PROTOCOL.md.
TENSOR_CONTRACT = {
    "hidden": ("BF16", 2, "[T, H_p] activations"),
    "w13": ("U8", 3, "[E, 2*I_p, H_p/2] packed E2M1 gate/up weights"),
    "w13_scale": ("U8", 2, "[rows >= E*2*I_p, cols >= H_p/32] E8M0 scales of w13"),
    "w2": ("U8", 3, "[E, H_p, I_p/2] packed E2M1 down weights"),
    "w2_scale": ("U8", 2, "[rows >= E*H_p, cols >= I_p/32] E8M0 scales of w2"),
    "w13_bias": ("F32", 2, "[E, 2*I_p] gate/up bias, [gate | up] order"),
    "w2_bias": ("F32", 2, "[E, H_p] down bias"),
    "topk_ids": ("I32", 2, "[T, k] routed experts"),
    "topk_weights": ("F32", 2, "[T, k] routing weights"),
}
CONTRACT_KEYS = ("gate_mode", "is_shuffled", "hidden_pad", "intermediate_pad", "swiglu_limit", "alpha")
GATE_MODES = ("separated", "interleave")

# While the v2 loop runs: the file descriptor of the protocol's stdout (file descriptor 1 then points at
# stderr). Only a test adapter that must write garbage on purpose touches it.
PROTOCOL_FD: Optional[int] = None


class AdapterError(Exception):
    """A failure with the exit status it maps to; the message is one line naming file and field.

    In a v2 worker an input error (2) is answered as that combination's error and the worker goes on;
    an environment error (3) is answered as fatal and the worker exits, so mxguard starts a fresh one."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def input_error(path: str, field: str, what: str) -> AdapterError:
    return AdapterError(f"{path}: {field}: {what}", EXIT_INPUT)


# ----------------------------------------------------------------------------------------------
# safetensors


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


@dataclasses.dataclass
class Tensor:
    """A tensor as safetensors stores it: dtype name, shape, little-endian C-order bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: Any  # bytes, bytearray or memoryview of exactly nbytes

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * DTYPE_BYTES[self.dtype]


def parse_tensor_entry(path: str, name: str, entry: Any, data_size: int) -> tuple[TensorInfo, tuple[int, int]]:
    if not isinstance(entry, dict):
        raise input_error(path, name, "header entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise input_error(path, name, f"dtype {dtype!r} is not a safetensors dtype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise input_error(path, name, f"shape {shape!r} is not a list of non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise input_error(path, name, f"data_offsets {offsets!r} do not lie within the {data_size} data bytes")
    expected = math.prod(shape) * DTYPE_BYTES[dtype]
    if offsets[1] - offsets[0] != expected:
        raise input_error(path, name, f"holds {offsets[1] - offsets[0]} bytes, shape {shape} of {dtype} needs {expected}")
    return TensorInfo(dtype, tuple(shape)), (offsets[0], offsets[1])


def _no_duplicate_keys(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


class SafetensorsFile:
    """A validated safetensors file, memory-mapped: tensors are views, read only when touched."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                prefix = f.read(8)
                if len(prefix) != 8:
                    raise input_error(path, "header", f"file is {len(prefix)} bytes, too short for a safetensors file")
                (header_len,) = struct.unpack("<Q", prefix)
                file_size = os.fstat(f.fileno()).st_size
                if header_len > min(MAX_HEADER_BYTES, file_size - 8):
                    raise input_error(path, "header", f"length {header_len} exceeds the file ({file_size} bytes)")
                raw = f.read(header_len)
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if file_size > 0 else None
        except OSError as e:
            raise input_error(path, "file", f"cannot read: {e.strerror}") from e
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self.close()
            raise input_error(path, "header", f"is not JSON ({str(e)[:200]})") from None
        if not isinstance(header, dict):
            self.close()
            raise input_error(path, "header", "is not a JSON object")
        metadata = header.pop("__metadata__", {}) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            self.close()
            raise input_error(path, "__metadata__", "must map keys to strings")
        self.metadata: dict[str, str] = metadata
        self._data_start = 8 + header_len
        data_size = file_size - self._data_start
        self.tensors: dict[str, TensorInfo] = {}
        self._offsets: dict[str, tuple[int, int]] = {}
        try:
            for name, entry in header.items():
                self.tensors[name], self._offsets[name] = parse_tensor_entry(path, name, entry, data_size)
        except AdapterError:
            self.close()
            raise

    def tensor(self, name: str) -> Tensor:
        info = self.tensors.get(name)
        if info is None:
            raise input_error(self.path, name, "no such tensor")
        begin, end = self._offsets[name]
        view = memoryview(self._map)[self._data_start + begin:self._data_start + end] if self._map else memoryview(b"")
        return Tensor(info.dtype, info.shape, view)

    def close(self) -> None:
        if getattr(self, "_map", None) is not None:
            try:
                self._map.close()
            except BufferError:
                pass  # the adapter still holds a view; the map is freed with it
            self._map = None


def read_header(path: str) -> tuple[dict[str, str], dict[str, TensorInfo]]:
    """(__metadata__, name -> TensorInfo) of a safetensors file, validated."""
    f = SafetensorsFile(path)
    f.close()
    return f.metadata, f.tensors


def write_safetensors(path: str, tensors: dict[str, Tensor], metadata: Optional[dict[str, str]] = None) -> None:
    """Writes a safetensors file beside `path` and renames it into place (a reader never sees half a file)."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in DTYPE_BYTES:
            raise AdapterError(f"{path}: {name}: dtype {t.dtype!r} is not a safetensors dtype", EXIT_INPUT)
        have = memoryview(t.data).nbytes
        if have != t.nbytes:
            raise AdapterError(f"{path}: {name}: {have} bytes of data, shape {list(t.shape)} of {t.dtype} "
                               f"needs {t.nbytes}", EXIT_INPUT)
        header[name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned
    partial = path + ".partial"
    try:
        with open(partial, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for t in tensors.values():
                f.write(t.data)
        os.replace(partial, path)
    except OSError as e:
        raise AdapterError(f"{path}: cannot write: {e.strerror}", EXIT_ENVIRONMENT) from e


# ----------------------------------------------------------------------------------------------
# The problem file's contract


@dataclasses.dataclass(frozen=True)
class Contract:
    """The contract fields and the sizes derived from the tensor shapes."""

    gate_mode: str
    is_shuffled: bool
    hidden_pad: int
    intermediate_pad: int
    swiglu_limit: float
    alpha: float
    tokens: int
    experts: int
    topk: int
    hidden_padded: int
    intermediate_padded: int
    guard_bytes: int = 0  # 0xFF zones to allocate around w13, w13_scale, w2, w2_scale (EXTERNAL_PROTOCOL.md)

    @property
    def hidden_size(self) -> int:
        return self.hidden_padded - self.hidden_pad

    @property
    def intermediate_size(self) -> int:
        return self.intermediate_padded - self.intermediate_pad


def parse_int(path: str, metadata: dict[str, str], key: str) -> int:
    text = metadata[key]
    try:
        return int(text)
    except ValueError:
        raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, not an integer") from None


def parse_float(path: str, metadata: dict[str, str], key: str) -> float:
    text = metadata[key]
    try:
        value = float(text)
    except ValueError:
        raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, expected a finite number")
    return value


def parse_bool(path: str, metadata: dict[str, str], key: str) -> bool:
    text = metadata[key]
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise input_error(path, f"__metadata__ '{key}'", f"is {text!r}, expected true or false")


def check_tensor_kinds(path: str, tensors: dict[str, TensorInfo]) -> None:
    for name, (dtype, rank, meaning) in TENSOR_CONTRACT.items():
        info = tensors.get(name)
        if info is None:
            raise input_error(path, name, f"tensor is missing (expected {dtype} {meaning})")
        if info.dtype != dtype:
            raise input_error(path, name, f"dtype is {info.dtype}, expected {dtype} ({meaning})")
        if len(info.shape) != rank:
            raise input_error(path, name, f"rank is {len(info.shape)} (shape {list(info.shape)}), expected {rank} ({meaning})")


def expect_dim(path: str, tensors: dict[str, TensorInfo], name: str, dim: int, expected: int, why: str) -> None:
    found = tensors[name].shape[dim]
    if found != expected:
        raise input_error(path, name, f"dim {dim} is {found}, expected {expected} ({why}); shape {list(tensors[name].shape)}")


def check_scales(path: str, tensors: dict[str, TensorInfo], name: str, rows: int, cols: int, shuffled: bool) -> None:
    found_rows, found_cols = tensors[name].shape
    if found_rows < rows or found_cols < cols:
        raise input_error(path, name, f"shape {[found_rows, found_cols]} is smaller than the {[rows, cols]} scales it must hold")
    if shuffled and (found_rows % 32 or found_cols % 8):
        raise input_error(path, name, f"shape {[found_rows, found_cols]} cannot hold shuffled scales "
                                      "(is_shuffled = true needs rows % 32 == 0 and cols % 8 == 0)")


def parse_contract(path: str, metadata: dict[str, str], tensors: dict[str, TensorInfo]) -> Contract:
    """Validates a problem file against EXTERNAL_PROTOCOL.md and returns its contract."""
    version = metadata.get("mxguard.protocol")
    if version != PROTOCOL_VERSION:
        raise input_error(path, "__metadata__ 'mxguard.protocol'",
                          f"is {version!r}, this adapter reads version {PROTOCOL_VERSION}")
    for key in CONTRACT_KEYS:
        if key not in metadata:
            raise input_error(path, f"__metadata__ '{key}'", "is missing (a problem file needs " + ", ".join(CONTRACT_KEYS) + ")")
    gate_mode = metadata["gate_mode"]
    if gate_mode not in GATE_MODES:
        raise input_error(path, "__metadata__ 'gate_mode'", f"is {gate_mode!r}, expected separated or interleave")

    check_tensor_kinds(path, tensors)
    tokens, hidden_padded = tensors["hidden"].shape
    experts, rows13, _ = tensors["w13"].shape
    if hidden_padded <= 0 or hidden_padded % MX_BLOCK:
        raise input_error(path, "hidden", f"dim 1 (H_p) is {hidden_padded}, expected a positive multiple of {MX_BLOCK}")
    if experts <= 0 or rows13 <= 0 or rows13 % (2 * MX_BLOCK):
        raise input_error(path, "w13", f"shape {list(tensors['w13'].shape)} needs E >= 1 and 2*I_p a positive multiple of 64")
    intermediate_padded = rows13 // 2
    shuffled = parse_bool(path, metadata, "is_shuffled")
    expect_dim(path, tensors, "w13", 2, hidden_padded // 2, f"H_p/2 with H_p = {hidden_padded} from hidden")
    expect_dim(path, tensors, "w2", 0, experts, "E from w13")
    expect_dim(path, tensors, "w2", 1, hidden_padded, "H_p from hidden")
    expect_dim(path, tensors, "w2", 2, intermediate_padded // 2, f"I_p/2 with I_p = {intermediate_padded} from w13")
    check_scales(path, tensors, "w13_scale", experts * rows13, hidden_padded // MX_BLOCK, shuffled)
    check_scales(path, tensors, "w2_scale", experts * hidden_padded, intermediate_padded // MX_BLOCK, shuffled)
    expect_dim(path, tensors, "w13_bias", 0, experts, "E from w13")
    expect_dim(path, tensors, "w13_bias", 1, rows13, "2*I_p from w13")
    expect_dim(path, tensors, "w2_bias", 0, experts, "E from w13")
    expect_dim(path, tensors, "w2_bias", 1, hidden_padded, "H_p from hidden")
    expect_dim(path, tensors, "topk_ids", 0, tokens, "T from hidden")
    topk = tensors["topk_ids"].shape[1]
    if topk <= 0:
        raise input_error(path, "topk_ids", f"dim 1 (k) is {topk}, expected at least 1")
    expect_dim(path, tensors, "topk_weights", 0, tokens, "T from hidden")
    expect_dim(path, tensors, "topk_weights", 1, topk, "k from topk_ids")

    contract = Contract(
        gate_mode=gate_mode,
        is_shuffled=shuffled,
        hidden_pad=parse_int(path, metadata, "hidden_pad"),
        intermediate_pad=parse_int(path, metadata, "intermediate_pad"),
        swiglu_limit=parse_float(path, metadata, "swiglu_limit"),
        alpha=parse_float(path, metadata, "alpha"),
        tokens=tokens, experts=experts, topk=topk,
        hidden_padded=hidden_padded, intermediate_padded=intermediate_padded,
        guard_bytes=parse_int(path, metadata, "guard_bytes") if "guard_bytes" in metadata else 0,
    )
    if not 0 <= contract.guard_bytes <= MAX_GUARD_BYTES:
        raise input_error(path, "__metadata__ 'guard_bytes'",
                          f"is {contract.guard_bytes}, expected 0 <= guard_bytes <= {MAX_GUARD_BYTES}")
    if not 0 <= contract.hidden_pad < hidden_padded:
        raise input_error(path, "__metadata__ 'hidden_pad'", f"is {contract.hidden_pad}, expected 0 <= hidden_pad < H_p = {hidden_padded}")
    if not 0 <= contract.intermediate_pad < intermediate_padded:
        raise input_error(path, "__metadata__ 'intermediate_pad'",
                          f"is {contract.intermediate_pad}, expected 0 <= intermediate_pad < I_p = {intermediate_padded}")
    if contract.swiglu_limit <= 0:
        raise input_error(path, "__metadata__ 'swiglu_limit'", f"is {contract.swiglu_limit}, expected a positive number")
    check_derived_sizes(path, metadata, contract)
    return contract


def check_derived_sizes(path: str, metadata: dict[str, str], c: Contract) -> None:
    """The convenience sizes in __metadata__ are optional; when present they must agree with the tensors."""
    derived = {"tokens": c.tokens, "experts": c.experts, "topk": c.topk, "hidden_size": c.hidden_size,
               "hidden_padded": c.hidden_padded, "intermediate_padded": c.intermediate_padded,
               "intermediate_size": c.intermediate_size}
    for key, value in derived.items():
        if key in metadata and parse_int(path, metadata, key) != value:
            raise input_error(path, f"__metadata__ '{key}'", f"is {metadata[key]}, the tensors and pads give {value}")


# ----------------------------------------------------------------------------------------------
# Guard zones (EXTERNAL_PROTOCOL.md "Guard zones"): the weight and scale tensors between 0xFF bytes,
# so a kernel reading past a tensor's end multiplies in NaN (E8M0 0xFF) instead of stray finite bytes.

GUARD_BYTE = 0xFF
MAX_GUARD_BYTES = 1 << 20
GUARDED_TENSORS = ("w13", "w13_scale", "w2", "w2_scale")


def guarded_bytes(data, guard_bytes: int) -> memoryview:
    """A copy of `data` (bytes-like) in the middle of a bytearray of 0xFF; the view keeps the block alive."""
    data = memoryview(data).cast("B")
    block = bytearray([GUARD_BYTE]) * (len(data) + 2 * guard_bytes)
    block[guard_bytes:guard_bytes + len(data)] = data
    return memoryview(block)[guard_bytes:guard_bytes + len(data)]


def torch_guarded(torch, tensor, guard_bytes: int):
    """The same values as `tensor` (same device, dtype and shape), stored in the middle of a 0xFF-filled
    uint8 block with `guard_bytes` on each side; torch is passed in so this module needs no torch."""
    if guard_bytes <= 0:
        return tensor
    flat = tensor.contiguous().view(torch.uint8).reshape(-1)
    block = torch.full((flat.numel() + 2 * guard_bytes,), GUARD_BYTE, dtype=torch.uint8, device=tensor.device)
    middle = block[guard_bytes:guard_bytes + flat.numel()]
    middle.copy_(flat)
    return middle.view(tensor.dtype).view(tensor.shape)


class Problem:
    """One problem file: its path, the request id (v2; the path in v1), the validated contract and
    its tensors (memory-mapped views, valid until run() returns)."""

    def __init__(self, path: str, id: str):
        self.path = path
        self.id = id
        self._file = SafetensorsFile(path)
        try:
            self.metadata = self._file.metadata
            self.contract = parse_contract(path, self._file.metadata, self._file.tensors)
        except AdapterError:
            self._file.close()
            raise

    def tensor(self, name: str) -> Tensor:
        return self._file.tensor(name)

    def close(self) -> None:
        self._file.close()


# ----------------------------------------------------------------------------------------------
# The adapter: set-up once, run per problem, write y


@dataclasses.dataclass
class Ready:
    """What set-up reports in the v2 hello (and the v1 output's metadata)."""

    device: str = ""
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    kernel_version: Optional[str] = None  # replaces the adapter's when known only after set-up


def write_tensor_output(y: Tensor, path: str, metadata: dict[str, str]) -> None:
    """The default writer: y must be this module's Tensor, BF16 or F32, 2-D."""
    if not isinstance(y, Tensor):
        raise AdapterError(f"run() returned {type(y).__name__}; without write_output= it must return a "
                           "mxguard_adapter.Tensor", EXIT_ENVIRONMENT)
    write_safetensors(path, {"y": y}, metadata)


class Adapter:
    """run(problem) -> y, with an optional setup() -> Ready called once per process (imports, device
    checks, JIT warm-up) and an optional write_output(y, path, metadata) for y that is not a Tensor."""

    def __init__(self, run: Callable[[Problem], Any], *, kernel: str, kernel_version: str = "",
                 setup: Optional[Callable[[], Optional[Ready]]] = None,
                 write_output: Callable[[Any, str, dict[str, str]], None] = write_tensor_output,
                 name: Optional[str] = None):
        self.run = run
        self.kernel = kernel
        self.kernel_version = kernel_version
        self.setup = setup
        self.write_output = write_output
        self.name = name or os.path.basename(sys.argv[0] or "adapter")
        self.ready: Optional[Ready] = None

    def prepare(self) -> Ready:
        if self.ready is None:
            self.ready = (self.setup() if self.setup else None) or Ready()
            if self.ready.kernel_version is not None:
                self.kernel_version = self.ready.kernel_version
        return self.ready

    def output_metadata(self, problem_id: str) -> dict[str, str]:
        ready = self.ready or Ready()
        meta = {"adapter": self.name, "kernel": self.kernel, "kernel_version": self.kernel_version,
                "device": ready.device, "id": problem_id}
        meta.update({f"version.{k}": v for k, v in ready.versions.items()})
        return meta

    def solve(self, problem_path: str, output_path: str, problem_id: str) -> None:
        """Reads, runs and writes one problem; AdapterError on failure."""
        problem = Problem(problem_path, problem_id)
        try:
            y = self.run(problem)
        finally:
            problem.close()
        self.write_output(y, output_path, self.output_metadata(problem_id))

    # -- version 1 -----------------------------------------------------------------------------

    def run_once(self, problem_path: str, output_path: str) -> int:
        try:
            self.prepare()
            self.solve(problem_path, output_path, problem_path)
        except AdapterError as e:
            print(f"{self.name}: error: {e}", file=sys.stderr)
            return e.exit_code
        return EXIT_OK

    # -- version 2 -----------------------------------------------------------------------------

    def serve(self, stdin=None) -> int:
        """The v2 worker loop on this process's stdin/stdout; returns the exit status."""
        global PROTOCOL_FD
        expected = os.environ.get(WORKER_PROTOCOL_ENV)
        if expected is not None and expected != WORKER_PROTOCOL.rsplit("/", 1)[1]:
            print(f"{self.name}: error: mxguard asks for worker protocol {expected}, this helper speaks "
                  f"{WORKER_PROTOCOL}", file=sys.stderr)
            return EXIT_INPUT
        # Only protocol lines may reach the real stdout: keep a private copy of it and point file
        # descriptor 1 (print(), and any C library) at stderr.
        sys.stdout.flush()
        PROTOCOL_FD = os.dup(1)
        saved_stdout = os.dup(1)
        os.dup2(2, 1)
        out = os.fdopen(PROTOCOL_FD, "w", encoding="utf-8", buffering=1)
        stdin = stdin if stdin is not None else sys.stdin.buffer
        try:
            try:
                ready = self.prepare()
            except AdapterError as e:
                print(f"{self.name}: error: {e}", file=sys.stderr)
                return e.exit_code
            self._send(out, {"type": "hello", "protocol": WORKER_PROTOCOL, "kernel": self.kernel,
                             "kernel_version": self.kernel_version, "device": ready.device,
                             "versions": dict(ready.versions)})
            while True:
                line = stdin.readline(MAX_LINE_BYTES + 1)
                if not line:
                    return EXIT_OK
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    self._send(out, _result("", f"request line longer than {MAX_LINE_BYTES} bytes", fatal=True))
                    return EXIT_INPUT
                request, problem_id = _parse_request(line)
                if request is None:
                    self._send(out, _result("", problem_id))
                    continue
                status = self._answer(out, request)
                if status is not None:
                    return status
        finally:
            out.close()
            PROTOCOL_FD = None
            sys.stdout.flush()
            os.dup2(saved_stdout, 1)
            os.close(saved_stdout)

    def _answer(self, out, request: dict) -> Optional[int]:
        """Runs one request and answers it; returns an exit status when the worker must stop."""
        problem_id = request["id"]
        try:
            self.solve(request["problem"], request["output"], problem_id)
        except AdapterError as e:
            fatal = e.exit_code != EXIT_INPUT
            self._send(out, _result(problem_id, str(e), fatal=fatal))
            return e.exit_code if fatal else None
        except Exception as e:  # the kernel or its runtime failed: the process may be unusable
            traceback.print_exc(file=sys.stderr)
            self._send(out, _result(problem_id, f"{type(e).__name__}: {e}", fatal=True))
            return EXIT_ENVIRONMENT
        self._send(out, {"type": "result", "id": problem_id, "status": "ok"})
        return None

    @staticmethod
    def _send(out, message: dict) -> None:
        out.write(json.dumps(message, ensure_ascii=True) + "\n")
        out.flush()


def _result(problem_id: str, message: str, fatal: bool = False) -> dict:
    r = {"type": "result", "id": problem_id, "status": "error", "message": message}
    if fatal:
        r["fatal"] = True
    return r


def _parse_request(line: bytes) -> tuple[Optional[dict], str]:
    """(request, id) of a request line, or (None, why) for a malformed one."""
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        return None, f"request is not a JSON line ({str(e)[:200]})"
    if not isinstance(request, dict) or request.get("type") != "run":
        return None, "request: expected an object with \"type\": \"run\""
    for field in ("id", "problem", "output"):
        if not isinstance(request.get(field), str):
            return None, f"request: field '{field}' is missing or not a string"
    return request, request["id"]


# ----------------------------------------------------------------------------------------------
# Command line


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """IN OUT (version 1) or --worker (version 2)."""
    parser.add_argument("problem", metavar="IN", nargs="?", help="problem file written by mxguard (safetensors)")
    parser.add_argument("output", metavar="OUT", nargs="?", help="output file: safetensors with tensor y")
    parser.add_argument("--worker", action="store_true",
                        help="serve mxguard's external protocol v2 on stdin/stdout (a persistent worker) "
                             "instead of running one problem")


def dispatch(adapter: Adapter, parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Runs the mode the parsed arguments ask for."""
    if args.worker:
        if args.problem is not None or args.output is not None:
            parser.error("--worker takes no IN or OUT: requests arrive on stdin")
        return adapter.serve()
    if args.problem is None or args.output is None:
        parser.error("IN and OUT are required unless --worker is given")
    return adapter.run_once(args.problem, args.output)


def main(adapter: Adapter, argv: Optional[list[str]] = None, description: Optional[str] = None) -> int:
    """A complete command line for an adapter without options of its own."""
    parser = argparse.ArgumentParser(prog=adapter.name, description=description or
                                     f"mxguard external-backend adapter for {adapter.kernel} "
                                     "(kernels/backend/EXTERNAL_PROTOCOL.md): 'IN OUT' runs one problem "
                                     "(protocol v1), --worker serves requests (protocol v2).")
    add_protocol_arguments(parser)
    return dispatch(adapter, parser, parser.parse_args(argv))
