// The contract between the ggml kernel family's two halves: llama.cpp's converted expert tensors
// (what kernels/layout/ggml_layout.* produces from a GPT-OSS checkpoint, and what the llama.cpp
// converter writes into a GGUF) and the ggml MoE graph that consumes them (kernels/ggml/).
// Header-only and free of ggml itself, so layout code and tests build without the ggml source.
#pragma once

#include <cstdint>

#include "kernels/tensor/tensor.hpp"

namespace mxg::ggml_family {

// ggml's block_mxfp4: one E8M0 scale byte, then 16 code bytes; byte j holds element j in the low
// nibble and element j + 16 in the high nibble. ggml's code table is the E2M1 table doubled, and
// the scale it applies is the E8M0 value halved, so the product equals the checkpoint's value.
inline constexpr std::int64_t kBlockElems = 32;
inline constexpr std::int64_t kBlockBytes = 17;

// One MoE layer's experts as llama.cpp's converter lays them out for GPT-OSS. Weight tensors are
// U8 [E, rows, K / 32 * 17]: for ggml, ne0 = K (the reduced axis), ne1 = rows, ne2 = E.
//   gate, up: rows = I, K = H     down: rows = H, K = I
// Biases are F32 [E, rows]. When `gate_up` is non-empty (the merged path of llama.cpp's
// build_moe_ffn: one [E, 2I, H/32*17] tensor whose first I rows are gate and last I rows are up),
// `gate` and `up` are empty and `gate_up_bias` replaces their biases.
struct GgmlExperts {
  Tensor gate, up, down;
  Tensor gate_bias, up_bias, down_bias;
  Tensor gate_up, gate_up_bias;

  bool merged() const { return !gate_up.empty(); }
};

// One problem for the ggml family: the experts plus activations and a fixed routing.
struct GgmlMoeProblem {
  GgmlExperts experts;
  Tensor hidden;        // F32 [T, H]
  Tensor topk_ids;      // I32 [T, k], indices into the E experts
  Tensor topk_weights;  // F32 [T, k]
  float alpha = 1.702f;       // GPT-OSS swiglu_oai
  float swiglu_limit = 7.0f;
};

}  // namespace mxg::ggml_family
