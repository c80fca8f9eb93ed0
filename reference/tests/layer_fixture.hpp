// Seeded small MoE layers for the reference tests: the raw canonical bytes and exactly
// representable bias / router / hidden values (multiples of 1/64, exact in bf16 and float), and
// the same data as the tensors the library reads.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor/safetensors.hpp"
#include "kernels/tensor/tensor.hpp"
#include "reference/moe_config.hpp"
#include "reference/moe_weights.hpp"

namespace mxg::ref::testing {

struct RawLayer {
  MoeConfig config;
  // Canonical layout (LAYOUTS.md §2): w13 rows interleaved g0,u0,g1,u1,...; bytes along K.
  std::vector<std::uint8_t> w13_blocks;  // [E, 2I, H/2]
  std::vector<std::uint8_t> w13_scales;  // [E, 2I, H/32]
  std::vector<std::uint8_t> w2_blocks;   // [E, H, I/2]
  std::vector<std::uint8_t> w2_scales;   // [E, H, I/32]
  std::vector<double> w13_bias;          // [E, 2I]
  std::vector<double> w2_bias;           // [E, H]
  std::vector<double> router_weight;     // [E, H]
  std::vector<double> router_bias;       // [E]

  // Blocks as [E, rows, K/32, 16] U8, biases and router as BF16 (or F32 when bias_f32).
  MoeWeights tensors(bool bias_f32 = false) const;
  // The same tensors under their Hugging Face names for `layer` (model.layers.L.mlp.experts.*,
  // model.layers.L.mlp.router.*), ready for write_safetensors.
  NamedTensors checkpoint_tensors(std::int64_t layer, bool bias_f32 = false) const;
};

// Codes uniform over all 16; scale bytes uniform in [scale_lo, scale_hi]; biases and router
// weights multiples of 1/64 in [-1, 1]; the router bias in [-2, 2].
RawLayer random_layer(const MoeConfig& c, std::uint64_t seed, int scale_lo = 121, int scale_hi = 126);

// Zero codes, scale byte 127, zero biases and router: a blank layer for hand-built cases.
RawLayer blank_layer(const MoeConfig& c);

// Multiples of 1/64 in [-2, 2].
std::vector<double> random_hidden(std::int64_t tokens, std::int64_t hidden, std::uint64_t seed);
Tensor f32_tensor(const std::vector<double>& values, Shape shape);
Tensor bf16_tensor(const std::vector<double>& values, Shape shape);
Tensor u8_tensor(const std::vector<std::uint8_t>& bytes, Shape shape);
std::vector<double> tensor_values(const Tensor& t);

}  // namespace mxg::ref::testing
