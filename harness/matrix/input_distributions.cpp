// The outliers, zero-blocks, extreme-scales and nan-scale passes over canonical inputs.
// Compiled with -ffp-contract=off (see seeded_random.cpp).
#include "harness/matrix/input_distributions.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "harness/matrix/seeded_random.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/format/mxfp4.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::matrix {
namespace {

constexpr int kNanScaleByte = 255;
// outliers: one hidden channel in 720 (4 for GPT-OSS's 2880) amplified 50x, and in every
// expert's matrices a few blocks whose scale is 2^4 times the largest ordinary scale.
constexpr std::int64_t kChannelsPerOutlier = 720;
constexpr double kOutlierChannelGain = 50.0;
constexpr int kOutlierBlocksPerMatrix = 8;
constexpr int kOutlierScaleBoost = 4;
// zero-blocks: one weight block in eight has all-zero codes; one hidden block in eight (at least
// one per token) is all zeros.
constexpr int kZeroOneIn = 8;
// extreme-scales: the largest gate_up shift, and the floor on |activation| in a block whose
// weights are scaled up (so that x·2^-D stays a normal bf16 number).
constexpr int kExtremeMaxShift = 110;
constexpr float kExtremeActivationFloor = 0x1.0p-8f;

// One expert's matrix inside an expert-stacked tensor: rows of `k` elements.
struct Matrix {
  std::span<std::uint8_t> codes;   // [rows, k/2]
  std::span<std::uint8_t> scales;  // [rows, k/32]
  std::int64_t rows = 0, k = 0;
  std::int64_t blocks_per_row() const { return k / mxfp4::kBlock; }
};

Matrix expert_matrix(Tensor& blocks, Tensor& scales, std::int64_t m) {
  const std::int64_t rows = blocks.dim(1), k = blocks.dim(2) * mxfp4::kBlock;
  const auto code_bytes = static_cast<std::size_t>(rows * k / 2), scale_bytes = static_cast<std::size_t>(rows * k / 32);
  return {blocks.as_mut<std::uint8_t>().subspan(static_cast<std::size_t>(m) * code_bytes, code_bytes),
          scales.as_mut<std::uint8_t>().subspan(static_cast<std::size_t>(m) * scale_bytes, scale_bytes), rows, k};
}

Matrix gate_up(CanonicalInputs& in, std::int64_t m) { return expert_matrix(in.gate_up_blocks, in.gate_up_scales, m); }
Matrix down(CanonicalInputs& in, std::int64_t m) { return expert_matrix(in.down_blocks, in.down_scales, m); }

std::int64_t materialised(const CanonicalInputs& in) { return std::ssize(in.expert_ids); }
std::uint64_t expert_key(const CanonicalInputs& in, std::int64_t m) {
  return static_cast<std::uint64_t>(in.expert_ids[static_cast<std::size_t>(m)]);
}

// The intermediate units this TP rank loads (LAYOUTS.md §4): outlier and NaN blocks are placed
// there, where the rank's kernel can see them.
layout::TpPlan rank_plan(const ShapeSpec& shape) {
  const auto plan = layout::tp_plan(shape.intermediate, shape.hidden, shape.tp, shape.rank);
  if (plan.units_loaded <= 0) {
    throw InputError(fmt::format("generate_inputs: shape {}: rank {} of tp {} loads no intermediate units (I = {})",
                                 shape.name, shape.rank, shape.tp, shape.intermediate));
  }
  return plan;
}

// `count` distinct values of [0, n), uniformly.
std::vector<std::int64_t> distinct(std::int64_t n, std::int64_t count, SeededStream& rng) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), std::int64_t{0});
  for (std::int64_t i = 0; i < count; ++i) {
    std::swap(all[static_cast<std::size_t>(i)],
              all[static_cast<std::size_t>(i) + rng.below(static_cast<std::uint64_t>(n - i))]);
  }
  all.resize(static_cast<std::size_t>(count));
  return all;
}

void boost_blocks(Matrix w, std::int64_t row_begin, std::int64_t row_end, std::int64_t block_begin,
                  std::int64_t block_end, SeededStream& rng) {
  const auto boosted = static_cast<std::uint8_t>(127 + base_scale_exponent(w.k) + kScaleJitter + kOutlierScaleBoost);
  for (int i = 0; i < kOutlierBlocksPerMatrix; ++i) {
    const std::int64_t row = row_begin + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(row_end - row_begin)));
    const std::int64_t block =
        block_begin + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(block_end - block_begin)));
    w.scales[static_cast<std::size_t>(row * w.blocks_per_row() + block)] = boosted;
  }
}

void zero_weight_blocks(Matrix w, SeededStream& rng) {
  const std::int64_t blocks = w.rows * w.blocks_per_row();
  std::uint64_t bits = 0;
  for (std::int64_t b = 0; b < blocks; ++b, bits >>= 4) {
    if (b % 16 == 0) bits = rng.bits();
    if ((bits & 15) < 16 / kZeroOneIn) {
      std::memset(w.codes.data() + b * mxfp4::kBlockBytes, 0, mxfp4::kBlockBytes);
    }
  }
}

}  // namespace

int base_scale_exponent(std::int64_t k) {
  // round(log2(sqrt(q))) = n  <=>  2^(2n-1) <= q < 2^(2n+1); q is never a power of two (137 is
  // odd), so there is no tie to break.
  const double q = static_cast<double>(k) * kE2M1MeanSquare;
  int n = 0;
  while (q >= std::ldexp(1.0, 2 * n + 1)) ++n;
  while (q < std::ldexp(1.0, 2 * n - 1)) --n;
  return -n;
}

int extreme_gate_up_shift(std::int64_t hidden) {
  // The smallest nonzero weight, 0.5 · 2^(X - 1 - D), must stay >= 2^-119 (a normal float with
  // margin), so D <= 117 + X.
  return std::min(kExtremeMaxShift, 117 + base_scale_exponent(hidden));
}

void apply_outliers(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed) {
  const std::int64_t H = shape.hidden, T = in.hidden.dim(0);
  SeededStream channel_rng(seed, "outliers.hidden");
  const auto channels = distinct(H, std::max<std::int64_t>(1, H / kChannelsPerOutlier), channel_rng);
  auto hidden = in.hidden.as_mut<float>();
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t c : channels) {
      float& x = hidden[static_cast<std::size_t>(t * H + c)];
      x = round_to_bf16(kOutlierChannelGain * x);
    }
  }
  const auto plan = rank_plan(shape);
  for (std::int64_t m = 0; m < materialised(in); ++m) {
    SeededStream gate_up_rng(seed, "outliers.gate_up", expert_key(in, m));
    boost_blocks(gate_up(in, m), 2 * plan.unit_start, 2 * plan.unit_end, 0, H / mxfp4::kBlock, gate_up_rng);
    SeededStream down_rng(seed, "outliers.down", expert_key(in, m));
    boost_blocks(down(in, m), 0, H, plan.unit_start / mxfp4::kBlock, plan.unit_end / mxfp4::kBlock, down_rng);
  }
}

void apply_zero_blocks(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed) {
  for (std::int64_t m = 0; m < materialised(in); ++m) {
    SeededStream gate_up_rng(seed, "zero-blocks.gate_up", expert_key(in, m));
    zero_weight_blocks(gate_up(in, m), gate_up_rng);
    SeededStream down_rng(seed, "zero-blocks.down", expert_key(in, m));
    zero_weight_blocks(down(in, m), down_rng);
  }
  const std::int64_t H = shape.hidden, T = in.hidden.dim(0), blocks = H / mxfp4::kBlock;
  SeededStream hidden_rng(seed, "zero-blocks.hidden");
  auto hidden = in.hidden.as_mut<float>();
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t b : distinct(blocks, std::max<std::int64_t>(1, blocks / kZeroOneIn), hidden_rng)) {
      std::fill_n(hidden.begin() + t * H + b * mxfp4::kBlock, mxfp4::kBlock, 0.0f);
    }
  }
}

void apply_extreme_scales(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed) {
  // gate_up: every 32-wide block of the hidden axis moves by -D, 0 or +D binades in the weight
  // scales and by the opposite amount in the activations, so each product keeps its magnitude
  // while the scale bytes reach ~10 binades from both ends of the E8M0 range.
  const std::int64_t H = shape.hidden, T = in.hidden.dim(0), blocks = H / mxfp4::kBlock;
  const int D = extreme_gate_up_shift(H);
  SeededStream rng(seed, "extreme-scales.blocks");
  std::vector<int> shift(static_cast<std::size_t>(blocks));
  for (int& s : shift) s = (static_cast<int>(rng.below(3)) - 1) * D;
  // Both ends of the range, and an unshifted block, are always present (when there are blocks
  // enough), whatever the draws.
  const int required[] = {D, -D, 0};
  const auto chosen = distinct(blocks, std::min<std::int64_t>(3, blocks), rng);
  for (std::size_t i = 0; i < chosen.size(); ++i) shift[static_cast<std::size_t>(chosen[i])] = required[i];

  auto hidden = in.hidden.as_mut<float>();
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < H; ++h) {
      const int s = shift[static_cast<std::size_t>(h / mxfp4::kBlock)];
      float& x = hidden[static_cast<std::size_t>(t * H + h)];
      if (s > 0) x = std::copysign(std::max(std::fabs(x), kExtremeActivationFloor), x);
      x = std::ldexp(x, -s);  // exact: the result stays a normal bf16 number
    }
  }
  auto gate_up_scales = in.gate_up_scales.as_mut<std::uint8_t>();
  for (std::size_t i = 0; i < gate_up_scales.size(); ++i) {
    gate_up_scales[i] = static_cast<std::uint8_t>(gate_up_scales[i] + shift[i % static_cast<std::size_t>(blocks)]);
  }

  // down: its input is the SwiGLU output, which cannot be scaled per block, so the whole
  // projection moves by one shift (up for even seeds, down for odd ones) together with its
  // bias; the output scales by 2^shift and every relative metric is unchanged.
  const int S = seed % 2 == 0 ? kExtremeDownShift : -kExtremeDownShift;
  for (auto& s : in.down_scales.as_mut<std::uint8_t>()) s = static_cast<std::uint8_t>(s + S);
  for (float& b : in.down_bias.as_mut<float>()) b = round_to_bf16(std::ldexp(static_cast<double>(b), S));
}

void apply_nan_scale(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed) {
  // Only experts that receive tokens qualify (SomeEmpty also materialises idle ones).
  auto ids = in.topk_ids.as<std::int32_t>();
  std::vector<std::int64_t> routed(ids.begin(), ids.end());
  std::sort(routed.begin(), routed.end());
  routed.erase(std::unique(routed.begin(), routed.end()), routed.end());

  const auto plan = rank_plan(shape);
  SeededStream rng(seed, "nan-scale");
  ScaleSite site;
  site.expert = routed[rng.below(routed.size())];
  site.row = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(shape.hidden)));
  site.block = plan.unit_start / mxfp4::kBlock +
               static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(plan.units_loaded / mxfp4::kBlock)));
  Matrix w = down(in, site.expert);
  w.scales[static_cast<std::size_t>(site.row * w.blocks_per_row() + site.block)] = kNanScaleByte;
  in.nan_scale = site;
}

}  // namespace mxg::matrix
