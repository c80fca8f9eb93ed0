// Test helpers for the ggml conversion: seeded checkpoint experts, and two dequantisers written
// independently of the code under test: the checkpoint's (OCP packing, through kernels/format's
// codecs) and ggml's reading of block_mxfp4 (its doubled E2M1 table times 2^(e-128), the
// convention ggml documents for GGML_TYPE_MXFP4).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/splitmix64.hpp"
#include "kernels/format/mxfp4.hpp"
#include "kernels/layout/ggml_convert.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout::ggml::testing {

// Random code bytes; scales in [lo, hi] (the default keeps every value finite in float: 6 * 2^(200-127));
// biases exact in bf16, stored as `bias_dtype`.
inline CheckpointExperts random_checkpoint(std::int64_t experts, std::int64_t hidden, std::int64_t intermediate,
                                           std::uint64_t seed, DType bias_dtype = DType::F32, int scale_lo = 1,
                                           int scale_hi = 200) {
  SplitMix64 rng{seed};
  auto bytes = [&](const Shape& shape, int lo, int hi) {
    Tensor t(DType::U8, shape);
    for (auto& b : t.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(lo + rng.next() % (hi - lo + 1));
    return t;
  };
  auto bias = [&](const Shape& shape) {
    std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
    for (auto& x : v) x = static_cast<float>(static_cast<std::int64_t>(rng.next() % 2001) - 1000) / 64.0f;
    return Tensor::from_f32(v, shape, bias_dtype);
  };
  CheckpointExperts ck;
  ck.gate_up_blocks = bytes({experts, 2 * intermediate, hidden / 32, 16}, 0, 255);
  ck.gate_up_scales = bytes({experts, 2 * intermediate, hidden / 32}, scale_lo, scale_hi);
  ck.gate_up_bias = bias({experts, 2 * intermediate});
  ck.down_blocks = bytes({experts, hidden, intermediate / 32, 16}, 0, 255);
  ck.down_scales = bytes({experts, hidden, intermediate / 32}, scale_lo, scale_hi);
  ck.down_bias = bias({experts, hidden});
  return ck;
}

// Element (e, r, k) of a checkpoint weight [E, rows, K/32, 16] with scales [E, rows, K/32].
inline double checkpoint_value(const Tensor& blocks, const Tensor& scales, std::int64_t e, std::int64_t r,
                               std::int64_t k) {
  const std::int64_t rows = blocks.dim(1), packed = blocks.dim(2) * 16, nb = blocks.dim(2);
  const auto* row = blocks.as<std::uint8_t>().data() + (e * rows + r) * packed;
  const auto* srow = scales.as<std::uint8_t>().data() + (e * rows + r) * nb;
  return mxfp4::dequant_element(row, srow, k);
}

// Element (e, r, k) of a block_mxfp4 weight [E, rows, K/32 * 17] as ggml decodes it.
inline double ggml_value(const Tensor& w, std::int64_t e, std::int64_t r, std::int64_t k) {
  static constexpr double kDoubledE2M1[16] = {0, 1, 2, 3, 4, 6, 8, 12, -0.0, -1, -2, -3, -4, -6, -8, -12};
  const std::int64_t rows = w.dim(1), row_bytes = w.dim(2);
  const auto* block = w.as<std::uint8_t>().data() + (e * rows + r) * row_bytes + (k / 32) * 17;
  const std::int64_t i = k % 32;
  const std::uint8_t byte = block[1 + i % 16];
  const std::uint8_t code = i < 16 ? byte & 0xF : byte >> 4;
  return std::ldexp(kDoubledE2M1[code], static_cast<int>(block[0]) - 128);
}

// The gate / up weight and bias ggml reads, from either form (merged: rows [0, I) and [I, 2I)).
struct GateUpView {
  const Tensor* weight;
  const Tensor* bias;
  std::int64_t row_offset;
};
inline GateUpView gate_view(const GgmlExperts& g) {
  return g.merged() ? GateUpView{&g.gate_up, &g.gate_up_bias, 0} : GateUpView{&g.gate, &g.gate_bias, 0};
}
inline GateUpView up_view(const GgmlExperts& g) {
  return g.merged() ? GateUpView{&g.gate_up, &g.gate_up_bias, g.gate_up.dim(1) / 2} : GateUpView{&g.up, &g.up_bias, 0};
}
inline float bias_at(const GateUpView& v, std::int64_t e, std::int64_t j) {
  return v.bias->as<float>()[static_cast<std::size_t>(e * v.bias->dim(1) + v.row_offset + j)];
}

}  // namespace mxg::layout::ggml::testing
