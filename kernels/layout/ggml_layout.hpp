// The steps of llama.cpp's GPT-OSS expert conversion (conversion/gpt_oss.py), each a named
// function with its exact inverse, on host tensors:
//   1. gate/up row split     [E, 2I, ...] -> gate [E, I, ...], up [E, I, ...]   (blocks, scales, biases)
//   2. nibble transform      [..., 16] code bytes: checkpoint packing -> ggml packing
//   3. block_mxfp4 packing   codes [E, rows, K/32, 16] + scales [E, rows, K/32] -> [E, rows, K/32 * 17]
// plus the scale-byte step a mis-converting pipeline would insert, and the merged gate_up form of
// llama.cpp's build_moe_ffn (rows [gate | up] in one tensor). The formulas are ggml_index_maps.hpp.
// Every function validates its input and throws InputError "<label>: ..." naming the dimension.
#pragma once

#include <string_view>

#include "kernels/layout/ggml_index_maps.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout::ggml {

struct GateUpPair {
  Tensor gate, up;
};

// Step 1. `t` is [E, 2I, ...] of any dtype (rows are dim 1 and move whole); gate and up come out
// [E, I, ...]. split_gate_up(join_gate_up(p, s), s) == p and join_gate_up(split_gate_up(t, s), s) == t
// for every split.
GateUpPair split_gate_up(const Tensor& t, GateUpSplit split, std::string_view label);
Tensor join_gate_up(const GateUpPair& halves, GateUpSplit split, std::string_view label);

// Step 2. U8 [..., 16]: each 16-byte group is one 32-element block. to_ggml_nibbles moves element
// k from checkpoint_nibble(k) to ggml_nibble(k); to_checkpoint_nibbles is its inverse.
Tensor to_ggml_nibbles(const Tensor& codes, std::string_view label, Threads threads = {});
Tensor to_checkpoint_nibbles(const Tensor& codes, std::string_view label, Threads threads = {});

// Scale-byte step: every byte through converted_scale_byte(e, s); `undo_scale_bytes` is its inverse.
Tensor convert_scale_bytes(const Tensor& scales, ScaleByte s, std::string_view label);
Tensor undo_scale_bytes(const Tensor& scales, ScaleByte s, std::string_view label);

// Step 3. codes U8 [E, rows, nb, 16] (already in the nibble order wanted), scales U8 [E, rows, nb]
// -> U8 [E, rows, nb * 17], each block its scale byte then its 16 code bytes. Bytes move unchanged.
struct BlockParts {
  Tensor codes;   // U8 [E, rows, nb, 16]
  Tensor scales;  // U8 [E, rows, nb]
};
Tensor pack_blocks(const Tensor& codes, const Tensor& scales, std::string_view label, Threads threads = {});
BlockParts unpack_blocks(const Tensor& packed, std::string_view label, Threads threads = {});

// The merged form: [E, I, ...] gate and up -> [E, 2I, ...] with gate rows first (what
// build_moe_ffn's merged path views as gate = rows [0, I), up = rows [I, 2I)).
Tensor merge_gate_up(const GateUpPair& halves, std::string_view label);
GateUpPair unmerge_gate_up(const Tensor& merged, std::string_view label);

// Biases as ggml adds them: F32 (the converter widens BF16 / F16 checkpoint biases losslessly).
Tensor bias_to_f32(const Tensor& bias, std::string_view label);

}  // namespace mxg::layout::ggml
