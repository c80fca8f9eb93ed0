// One GPT-OSS MoE layer's checkpoint expert tensors -> GgmlExperts, under a GgmlPrep: the right
// prep is llama.cpp's converter (conversion/gpt_oss.py: split gate_up rows [::2] / [1::2], nibble
// transform, block_mxfp4 packing; biases split the same way and widened to F32), every other prep
// one way a converter or loader can get it wrong. Each prep is a bijection, so each has an exact
// inverse.
#pragma once

#include <string_view>

#include "kernels/ggml/ggml_experts.hpp"
#include "kernels/layout/ggml_prep.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout::ggml {

using ggml_family::GgmlExperts;

// The canonical checkpoint tensors of one layer (LAYOUTS.md §2, harness/matrix/canonical_inputs.hpp).
struct CheckpointExperts {
  Tensor gate_up_blocks;  // U8 [E, 2I, H/32, 16], rows g0, u0, g1, u1, ...
  Tensor gate_up_scales;  // U8 [E, 2I, H/32]
  Tensor gate_up_bias;    // F32 / BF16 / F16 [E, 2I]
  Tensor down_blocks;     // U8 [E, H, I/32, 16]
  Tensor down_scales;     // U8 [E, H, I/32]
  Tensor down_bias;       // F32 / BF16 / F16 [E, H]
};

// The layer's geometry, after checking every tensor's dtype and shape against the others.
// InputError "<source>: <tensor> <what is wrong>" on the first mismatch.
struct ExpertGeometry {
  std::int64_t experts = 0, hidden = 0, intermediate = 0;  // E, H, I
};
ExpertGeometry check_checkpoint_experts(const CheckpointExperts& ck, std::string_view source);
// The same for converted experts (the GgmlExperts contract): gate and up, or gate_up (never both),
// weights U8 with whole 17-byte blocks, biases F32, every E / H / I agreeing.
ExpertGeometry check_ggml_experts(const GgmlExperts& g, std::string_view source);

// Applies `prep`. Output shapes are GgmlExperts' whatever the prep (the bugs move bytes, not shapes):
// gate, up U8 [E, I, H/32*17], down U8 [E, H, I/32*17], biases F32; merged form: gate_up
// [E, 2I, H/32*17] and gate_up_bias [E, 2I] instead of gate, up and their biases.
GgmlExperts prepare_ggml_experts(const CheckpointExperts& ck, const GgmlPrep& prep,
                                 std::string_view source = "checkpoint", Threads threads = {});
// llama.cpp's converter: prepare_ggml_experts with the default (right) prep.
GgmlExperts convert_checkpoint_experts(const CheckpointExperts& ck, std::string_view source = "checkpoint",
                                       Threads threads = {});
// Exact inverse of prepare_ggml_experts(·, prep). Biases come back F32.
CheckpointExperts unprepare_ggml_experts(const GgmlExperts& g, const GgmlPrep& prep,
                                         std::string_view source = "ggml experts", Threads threads = {});

}  // namespace mxg::layout::ggml
