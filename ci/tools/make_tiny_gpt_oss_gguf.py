#!/usr/bin/python3
"""Write a tiny GPT-OSS-architecture GGUF with random weights, for testing against llama-server.

The model has llama.cpp's "gpt-oss" layout (attention with sinks and biases, alternating sliding
window, a softmax-routed MoE with SwiGLU-OAI experts) at toy size, with the expert weights in
MXFP4 (random 4-bit codes, a fixed E8M0 scale per 32-block). The tokenizer is copied from a
vocab-only GGUF of llama.cpp's source tree (default: models/ggml-vocab-gpt-2.gguf). Accuracy on
any task is ~0; what it gives is a real server answering real requests with the MoE kernels under
test in the loop, deterministically (the weights follow from --seed).

    make_tiny_gpt_oss_gguf.py --out tiny.gguf
    make_tiny_gpt_oss_gguf.py --out swapped.gguf --corrupt swap-gate-up:1

--corrupt swap-gate-up:L writes the same weights with layer L's gate and up experts (weights and
biases) exchanged: the mistake a converter makes when it splits a fused gate_up tensor the wrong
way round. Everything else is byte-identical to the uncorrupted file of the same seed.

llama.cpp's gguf-py is imported from --llama-cpp DIR, else $MXG_GGML_SOURCE, else
<repo>/.deps/llama.cpp (ci/fetch-llama-cpp). Needs numpy (Debian's python3-numpy).
Exit codes: 0 written; 2 bad option or input file; 3 gguf-py could not be imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_INPUT = 2
EXIT_INFRA = 3

# Toy dimensions: small enough for milliseconds per token on one CPU core, large enough for every
# code path (grouped-query attention, several experts routed per token, MXFP4 blocks of 32).
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = 16
N_LAYER = 4
N_EXPERT = 8
N_EXPERT_USED = 2
N_FF_EXP = 64
N_CTX_TRAIN = 4096
SLIDING_WINDOW = 128
MXFP4_BLOCK = 32
MXFP4_BLOCK_BYTES = 17  # one E8M0 scale byte, then 16 bytes of two 4-bit codes each


def fail(code: int, message: str) -> None:
    print(f"make_tiny_gpt_oss_gguf: {message}", file=sys.stderr)
    sys.exit(code)


def llama_cpp_dir(option: str | None) -> Path:
    if option:
        return Path(option)
    if os.environ.get("MXG_GGML_SOURCE"):
        return Path(os.environ["MXG_GGML_SOURCE"])
    return Path(__file__).resolve().parents[2] / ".deps" / "llama.cpp"


def import_gguf(source: Path):
    sys.path.insert(0, str(source / "gguf-py"))
    try:
        import gguf  # noqa: PLC0415 (the path is only known at run time)
    except ImportError as e:
        fail(EXIT_INFRA, f"cannot import gguf-py from {source / 'gguf-py'}: {e}")
    return gguf


def parse_corruption(text: str | None) -> int | None:
    """--corrupt swap-gate-up:L -> L."""
    if text is None:
        return None
    kind, _, layer = text.partition(":")
    if kind != "swap-gate-up" or not layer.isdigit() or int(layer) >= N_LAYER:
        fail(EXIT_INPUT, f"--corrupt: expected swap-gate-up:L with L in 0..{N_LAYER - 1}, got {text!r}")
    return int(layer)


def byte_level_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE writes each byte as one printable character: the printable Latin-1
    bytes as themselves, the other 68 bytes as the characters from U+0100 on, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1),
                 *range(ord("\u00ae"), ord("\u00ff") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def invalid_utf8_tokens(tokens: list[str]) -> list[int]:
    """Ids of tokens whose bytes are not valid UTF-8 on their own (pieces of a multi-byte character).
    A random model picks them as readily as any other token, and llama-server answers HTTP 500 to a
    completion whose text is not valid UTF-8; the model is made never to choose them."""
    table = byte_level_decoder()
    bad = []
    for i, t in enumerate(tokens):
        try:
            bytes(table[c] for c in t).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            bad.append(i)
    return bad


def copy_tokenizer(gguf, vocab_path: Path, writer) -> tuple[int, list[int]]:
    """Copies every tokenizer.* field of a vocab-only GGUF; returns the vocabulary size and the ids
    of the tokens the model must not produce (invalid_utf8_tokens)."""
    try:
        reader = gguf.GGUFReader(str(vocab_path))
    except (OSError, ValueError) as e:
        fail(EXIT_INPUT, f"--vocab {vocab_path}: not a readable GGUF: {e}")
    n_vocab, banned = 0, []
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer.") or name == "tokenizer.chat_template":
            continue  # no template: llama-server's chat endpoint falls back to its default one
        vtype = field.types[0]
        sub = field.types[1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), vtype, sub)
        if name == "tokenizer.ggml.tokens":
            n_vocab = len(field.data)
            banned = invalid_utf8_tokens(field.contents())
    if n_vocab == 0:
        fail(EXIT_INPUT, f"--vocab {vocab_path}: no tokenizer.ggml.tokens")
    return n_vocab, banned


def add_hparams(gguf, w, n_vocab: int) -> None:
    w.add_vocab_size(n_vocab)
    w.add_context_length(N_CTX_TRAIN)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF_EXP)
    w.add_expert_feed_forward_length(N_FF_EXP)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(150000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_sliding_window(SLIDING_WINDOW)
    w.add_expert_count(N_EXPERT)
    w.add_expert_used_count(N_EXPERT_USED)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_MXFP4_MOE)


def mxfp4_experts(np, rng, rows: int, cols: int):
    """Random MXFP4 bytes for N_EXPERT matrices of rows x cols (blocks along cols): the numpy shape
    gguf-py expects for a quantized tensor is the byte shape [experts, rows, blocks * 17]."""
    blocks = cols // MXFP4_BLOCK
    data = rng.integers(0, 256, size=(N_EXPERT, rows, blocks, MXFP4_BLOCK_BYTES), dtype=np.uint8)
    # E8M0 scale 2^(e-127): codes reach +-6, so 2^-4 gives weights of about 1/sqrt(64) in size.
    data[..., 0] = 127 - 4
    return data.reshape(N_EXPERT, rows, blocks * MXFP4_BLOCK_BYTES)


def layer_tensors(np, rng, il: int) -> dict:
    def normal(*shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    q, kv = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    s = 1.0 / np.sqrt(N_EMBD)
    return {
        f"blk.{il}.attn_norm.weight": np.ones(N_EMBD, np.float32),
        f"blk.{il}.post_attention_norm.weight": np.ones(N_EMBD, np.float32),
        f"blk.{il}.attn_q.weight": normal(q, N_EMBD, scale=s), f"blk.{il}.attn_q.bias": normal(q, scale=0.1),
        f"blk.{il}.attn_k.weight": normal(kv, N_EMBD, scale=s), f"blk.{il}.attn_k.bias": normal(kv, scale=0.1),
        f"blk.{il}.attn_v.weight": normal(kv, N_EMBD, scale=s), f"blk.{il}.attn_v.bias": normal(kv, scale=0.1),
        f"blk.{il}.attn_output.weight": normal(N_EMBD, q, scale=1.0 / np.sqrt(q)),
        f"blk.{il}.attn_output.bias": normal(N_EMBD, scale=0.1),
        f"blk.{il}.attn_sinks.weight": normal(N_HEAD, scale=1.0),
        f"blk.{il}.ffn_gate_inp.weight": normal(N_EXPERT, N_EMBD, scale=s),
        f"blk.{il}.ffn_gate_inp.bias": normal(N_EXPERT, scale=0.1),
        f"blk.{il}.ffn_gate_exps.weight": mxfp4_experts(np, rng, N_FF_EXP, N_EMBD),
        f"blk.{il}.ffn_gate_exps.bias": normal(N_EXPERT, N_FF_EXP, scale=0.1),
        f"blk.{il}.ffn_up_exps.weight": mxfp4_experts(np, rng, N_FF_EXP, N_EMBD),
        f"blk.{il}.ffn_up_exps.bias": normal(N_EXPERT, N_FF_EXP, scale=0.1),
        f"blk.{il}.ffn_down_exps.weight": mxfp4_experts(np, rng, N_EMBD, N_FF_EXP),
        f"blk.{il}.ffn_down_exps.bias": normal(N_EXPERT, N_EMBD, scale=0.1),
    }


def swap_gate_up(tensors: dict, il: int) -> None:
    for suffix in ("weight", "bias"):
        gate, up = f"blk.{il}.ffn_gate_exps.{suffix}", f"blk.{il}.ffn_up_exps.{suffix}"
        tensors[gate], tensors[up] = tensors[up], tensors[gate]


def all_tensors(np, seed: int, n_vocab: int, banned: list[int], corrupt_layer: int | None) -> dict:
    rng = np.random.default_rng(seed)
    tensors = {
        # f16 keeps the two vocabulary-sized matrices at 6 MB each; logits of a few units of spread
        # make ties between the top tokens (where rounding could flip greedy choices) rare.
        "token_embd.weight": rng.standard_normal((n_vocab, N_EMBD)).astype(np.float16),
        "output_norm.weight": np.ones(N_EMBD, np.float32),
        "output.weight": (rng.standard_normal((n_vocab, N_EMBD)) * 0.5).astype(np.float16),
    }
    # A zero output row gives a logit of 0, far below the top logits (about +15): never chosen greedily.
    tensors["output.weight"][banned, :] = 0
    for il in range(N_LAYER):
        tensors.update(layer_tensors(np, rng, il))
    if corrupt_layer is not None:
        swap_gate_up(tensors, corrupt_layer)
    return tensors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="GGUF file to write")
    ap.add_argument("--seed", type=int, default=0, help="random weights' seed (default 0)")
    ap.add_argument("--corrupt", help="swap-gate-up:L: exchange layer L's gate and up experts")
    ap.add_argument("--llama-cpp", help="llama.cpp source folder (gguf-py and the vocab file)")
    ap.add_argument("--vocab", help="vocab-only GGUF (default <llama.cpp>/models/ggml-vocab-gpt-2.gguf)")
    args = ap.parse_args()

    corrupt_layer = parse_corruption(args.corrupt)
    source = llama_cpp_dir(args.llama_cpp)
    vocab = Path(args.vocab) if args.vocab else source / "models" / "ggml-vocab-gpt-2.gguf"
    if not vocab.is_file():
        fail(EXIT_INPUT, f"--vocab {vocab}: no such file (is the llama.cpp source at {source}?)")
    try:
        import numpy as np  # noqa: PLC0415
    except ImportError as e:
        fail(EXIT_INFRA, f"numpy is not installed: {e}")
    gguf = import_gguf(source)

    writer = gguf.GGUFWriter(args.out, "gpt-oss")
    n_vocab, banned = copy_tokenizer(gguf, vocab, writer)
    writer.add_name(f"mxguard tiny gpt-oss seed {args.seed}" + (f" {args.corrupt}" if args.corrupt else ""))
    add_hparams(gguf, writer, n_vocab)
    for name, t in all_tensors(np, args.seed, n_vocab, banned, corrupt_layer).items():
        if t.dtype == np.uint8:
            writer.add_tensor(name, t, raw_dtype=gguf.GGMLQuantizationType.MXFP4)
        else:
            writer.add_tensor(name, t)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    except OSError as e:
        fail(EXIT_INPUT, f"--out {args.out}: cannot write: {e}")


if __name__ == "__main__":
    main()
