// Device-buffer preparation for one combination (see device_prep.hpp).
#include "harness/matrix/device_prep.hpp"

#include <cstring>
#include <limits>

#include "kernels/backend/kernel_extents.hpp"
#include "kernels/format/mxfp4.hpp"
#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::matrix {

namespace lm = mxg::layout;

namespace {
// Inside a matrix worker: the transforms stay on the calling thread (the runner parallelises).
constexpr lm::Threads kOneThread{1};
constexpr std::uint8_t kNanScale = 0xFF;

Tensor to_bf16_padded(const Tensor& hidden_f32, std::int64_t hidden_padded) {
  const std::int64_t t = hidden_f32.dim(0), h = hidden_f32.dim(1);
  Tensor out(DType::BF16, {t, hidden_padded});
  auto dst = out.as_mut<std::uint16_t>();
  const auto src = hidden_f32.as<float>();
  for (std::int64_t i = 0; i < t; ++i)
    for (std::int64_t j = 0; j < h; ++j) dst[i * hidden_padded + j] = f32_to_bf16(src[i * h + j]);
  return out;
}
}  // namespace

RankSlice slice_rank(const CanonicalInputs& in, const ShapeSpec& shape) {
  RankSlice s;
  s.plan = lm::make_tp_plan(shape.intermediate, shape.hidden, shape.tp, shape.rank, shape.name);
  using K = lm::ExpertTensor;
  s.w13 = lm::tp_slice(in.gate_up_blocks, K::gate_up_proj_blocks, s.plan, shape.name);
  s.w13 = s.w13.reshaped({s.w13.dim(0), s.w13.dim(1), s.plan.hidden_padded / 2});
  s.w13_scale = lm::tp_slice(in.gate_up_scales, K::gate_up_proj_scales, s.plan, shape.name);
  s.w13_bias = lm::tp_slice(in.gate_up_bias, K::gate_up_proj_bias, s.plan, shape.name);
  s.w2 = lm::tp_slice(in.down_blocks, K::down_proj_blocks, s.plan, shape.name);
  s.w2 = s.w2.reshaped({s.w2.dim(0), s.w2.dim(1), s.plan.intermediate_padded / 2});
  s.w2_scale = lm::tp_slice(in.down_scales, K::down_proj_scales, s.plan, shape.name);
  s.w2_bias = lm::tp_slice(in.down_bias, K::down_proj_bias, s.plan, shape.name);
  s.hidden = to_bf16_padded(in.hidden, s.plan.hidden_padded);
  s.topk_ids = in.topk_ids;
  s.topk_weights = in.topk_weights;
  return s;
}

Geometry rank_geometry(const RankSlice& s) {
  return Geometry{.hidden = s.plan.hidden,
                  .hidden_padded = s.plan.hidden_padded,
                  .loaded_units = s.plan.units_loaded,
                  .intermediate_padded = s.plan.intermediate_padded,
                  .units_over_tp = s.plan.shard_units,
                  .experts = s.w13.dim(0)};
}

namespace {
// Poisons, in the canonical padded buffers (interleaved w13 rows), everything the kernel never reads
// (LAYOUTS.md §8, in the kernel's pad convention): units >= x.units, w13 inputs >= x.inputs, w2 units
// >= x.units_read, outputs >= x.outputs. Whole E8M0 blocks only (a block that mixes read and unread
// elements keeps its scale).
void poison_absent(RankSlice& s, const KernelExtents& x) {
  const std::int64_t experts = s.w13.dim(0), i_p = s.plan.intermediate_padded, h_p = s.plan.hidden_padded;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  {
    const std::int64_t cols = s.w13_scale.dim(2), first_absent_col = layout::ceil_div(x.inputs, mxfp4::kBlock);
    auto sc = s.w13_scale.as_mut<std::uint8_t>();
    auto bias = s.w13_bias.as_mut<float>();
    for (std::int64_t e = 0; e < experts; ++e) {
      for (std::int64_t row = 0; row < 2 * i_p; ++row) {
        std::uint8_t* r = sc.data() + (e * 2 * i_p + row) * cols;
        const bool absent_unit = row / 2 >= x.units;
        for (std::int64_t c = absent_unit ? 0 : first_absent_col; c < cols; ++c) r[c] = kNanScale;
        if (absent_unit) bias[e * 2 * i_p + row] = nan;
      }
    }
  }
  {
    const std::int64_t cols = s.w2_scale.dim(2), first_absent_col = layout::ceil_div(x.units_read, mxfp4::kBlock);
    auto sc = s.w2_scale.as_mut<std::uint8_t>();
    auto bias = s.w2_bias.as_mut<float>();
    for (std::int64_t e = 0; e < experts; ++e) {
      for (std::int64_t row = 0; row < h_p; ++row) {
        std::uint8_t* r = sc.data() + (e * h_p + row) * cols;
        for (std::int64_t c = row >= x.outputs ? 0 : first_absent_col; c < cols; ++c) r[c] = kNanScale;
        if (row >= x.outputs) bias[e * h_p + row] = nan;
      }
    }
  }
  {
    auto act = s.hidden.as_mut<std::uint16_t>();
    const std::uint16_t bf16_nan = f32_to_bf16(nan);
    for (std::int64_t t = 0; t < s.hidden.dim(0); ++t)
      for (std::int64_t j = x.inputs; j < h_p; ++j) act[t * h_p + j] = bf16_nan;
  }
}

lm::ShuffleOptions w13_shuffle(WeightShuffle w) {
  return {w == WeightShuffle::InterleavedTiles ? lm::TileMode::interleaved : lm::TileMode::separated, true};
}
lm::ShuffleOptions w13_scale_shuffle(ScaleShuffle s) {
  return {s == ScaleShuffle::Interleaved ? lm::TileMode::interleaved : lm::TileMode::separated, true};
}
// w2 is not gate/up: both families lay it out the same way (gate_up = false).
constexpr lm::ShuffleOptions kW2Shuffle{lm::TileMode::separated, false};

bool deinterleaves_scales(Prep p) { return p == Prep::Deinterleaved || p == Prep::DeinterleavedBiasInterleaved; }
bool deinterleaves_bias(Prep p) { return p == Prep::Deinterleaved || p == Prep::DeinterleavedScalesInterleaved; }
}  // namespace

FusedMoeProblem prepare_problem(const RankSlice& slice, const Combination& c, const ShapeSpec& shape,
                                PadConvention convention) {
  const Geometry g = rank_geometry(slice);
  const std::int64_t stated_pad = g.stated_intermediate_pad(c.padding);
  RankSlice s = slice;  // tensors are copy-on-write: poisoning copies only what it touches
  poison_absent(s, kernel_extents(convention, g.hidden_padded, g.intermediate_padded, g.hidden_pad(), stated_pad));

  const std::int64_t experts = s.w13.dim(0);
  const std::string label = shape.name;
  if (c.prep != Prep::Interleaved) s.w13 = lm::deinterleave_rows(s.w13, std::nullopt, label + " w13", kOneThread);
  if (deinterleaves_scales(c.prep))
    s.w13_scale = lm::deinterleave_rows(s.w13_scale, std::nullopt, label + " w13 scales", kOneThread);
  if (deinterleaves_bias(c.prep))
    s.w13_bias = lm::deinterleave_rows(s.w13_bias, std::nullopt, label + " w13 bias", kOneThread);

  if (c.weight_shuffle != WeightShuffle::None) {
    s.w13 = lm::shuffle_weight(s.w13, w13_shuffle(c.weight_shuffle), std::nullopt, label + " w13", kOneThread);
    s.w2 = lm::shuffle_weight(s.w2, kW2Shuffle, std::nullopt, label + " w2", kOneThread);
  }
  // Scales go to the kernel as 2-D [E·rows, cols], padded where the shuffle pads.
  if (c.scale_shuffle != ScaleShuffle::None) {
    s.w13_scale = lm::shuffle_scale(s.w13_scale, w13_scale_shuffle(c.scale_shuffle), experts,
                                    label + " w13 scales", kOneThread);
    s.w2_scale = lm::shuffle_scale(s.w2_scale, kW2Shuffle, experts, label + " w2 scales", kOneThread);
  } else {
    s.w13_scale = s.w13_scale.reshaped({experts * s.w13_scale.dim(1), s.w13_scale.dim(2)});
    s.w2_scale = s.w2_scale.reshaped({experts * s.w2_scale.dim(1), s.w2_scale.dim(2)});
  }

  FusedMoeProblem p;
  p.hidden = s.hidden;
  p.w13 = s.w13;
  p.w13_scale = s.w13_scale;
  p.w2 = s.w2;
  p.w2_scale = s.w2_scale;
  p.w13_bias = s.w13_bias;
  p.w2_bias = s.w2_bias;
  p.topk_ids = s.topk_ids;
  p.topk_weights = s.topk_weights;
  p.gate_mode = c.gate_mode;
  p.is_shuffled = c.is_shuffled;
  p.hidden_pad = g.hidden_pad();
  p.intermediate_pad = stated_pad;
  p.swiglu_limit = shape.swiglu_limit;
  p.alpha = shape.alpha;
  return p;
}

}  // namespace mxg::matrix
