// A random MoE layer of any size in the canonical checkpoint layout (LAYOUTS.md §2), for the
// reference benchmark and the peak-memory measurement: valid E2M1 codes, E8M0 scales in a range
// that keeps activations finite, BF16 biases and router, BF16 hidden states.
#pragma once

#include <cstdint>

#include "kernels/tensor/safetensors.hpp"
#include "kernels/tensor/tensor.hpp"
#include "reference/moe_config.hpp"
#include "reference/moe_weights.hpp"

namespace mxg::ref::bench {

// GPT-OSS-120b's MoE layer: H = I = 2880, 128 experts, top-4.
MoeConfig gptoss120b_config();

// The layer's eight tensors, filled from `seed` (fast: a splitmix64 stream, not a statistical RNG).
MoeWeights synthetic_weights(const MoeConfig& c, std::uint64_t seed);
// [tokens, H] BF16 values in about [-2, 2].
Tensor synthetic_hidden(std::int64_t tokens, std::int64_t hidden, std::uint64_t seed);

// The weights under their Hugging Face names for layer `layer`, ready for write_safetensors.
NamedTensors checkpoint_tensors(const MoeWeights& w, std::int64_t layer);

}  // namespace mxg::ref::bench
