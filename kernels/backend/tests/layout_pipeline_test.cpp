// The host backend on device layouts produced by kernels/layout's transforms, as SGLang's loader
// produces them: tp slice + pad -> de-interleave -> (separated | interleaved) shuffles. The sum of
// the TP ranks' outputs is the full layer, except for the loaded units an over-stated
// intermediate_pad hides (LAYOUTS.md §4: 16 per rank at tp 4 for GPT-OSS; here too).
#include <gtest/gtest.h>

#include "kernels/backend/tests/host_test_util.hpp"
#include "kernels/backend/tests/moe_fixture.hpp"
#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::testing {
namespace {

using layout::ExpertTensor;

struct Pipeline {
  const char* name;
  bool shuffled;
  layout::TileMode tiles;  // when shuffled
  GateMode mode;
};

// The fixed SGLang pipelines of LAYOUTS.md §8, and the preshuffle-off path.
const Pipeline kPipelines[] = {
    {"separated_tiles", true, layout::TileMode::separated, GateMode::Separated},
    {"interleaved_tiles", true, layout::TileMode::interleaved, GateMode::Interleave},
    {"no_shuffle", false, layout::TileMode::separated, GateMode::Separated},
};

Tensor bytes(const std::vector<std::uint8_t>& v, Shape shape) {
  Tensor t(DType::U8, std::move(shape));
  std::copy(v.begin(), v.end(), t.as_mut<std::uint8_t>().begin());
  return t;
}

// One rank's problem, every step through kernels/layout.
FusedMoeProblem rank_problem(const CanonicalMoe& m, const layout::TpPlan& plan, const Pipeline& pipe) {
  const auto& s = m.shape;
  const std::int64_t E = s.experts, H = s.hidden, I = s.units;
  auto slice = [&](const Tensor& t, ExpertTensor kind) { return layout::tp_slice(t, kind, plan, "test"); };
  Tensor w13 = slice(bytes(m.w13, {E, 2 * I, H / 2}), ExpertTensor::gate_up_proj_blocks);
  Tensor s13 = slice(bytes(m.w13_scale, {E, 2 * I, H / 32}), ExpertTensor::gate_up_proj_scales);
  Tensor b13 = slice(Tensor::from_f32(m.w13_bias, {E, 2 * I}), ExpertTensor::gate_up_proj_bias);
  Tensor w2 = slice(bytes(m.w2, {E, H, I / 2}), ExpertTensor::down_proj_blocks);
  Tensor s2 = slice(bytes(m.w2_scale, {E, H, I / 32}), ExpertTensor::down_proj_scales);
  Tensor b2 = slice(Tensor::from_f32(m.w2_bias, {E, H}), ExpertTensor::down_proj_bias);

  w13 = layout::deinterleave_rows(w13, std::nullopt, "w13");
  s13 = layout::deinterleave_rows(s13, std::nullopt, "w13_scale");
  b13 = layout::deinterleave_rows(b13, std::nullopt, "w13_bias");

  FusedMoeProblem p;
  const std::int64_t rows13 = 2 * plan.intermediate_padded, hp = plan.hidden_padded;
  if (pipe.shuffled) {
    p.w13 = layout::shuffle_weight(w13, {pipe.tiles, true}, std::nullopt, "w13");
    p.w13_scale = layout::shuffle_scale(s13, {pipe.tiles, true}, std::nullopt, "w13_scale");
    p.w2 = layout::shuffle_weight(w2, {pipe.tiles, false}, std::nullopt, "w2");
    p.w2_scale = layout::shuffle_scale(s2, {pipe.tiles, false}, std::nullopt, "w2_scale");
  } else {
    p.w13 = w13;
    p.w13_scale = s13.reshaped({E * rows13, hp / 32});
    p.w2 = w2;
    p.w2_scale = s2.reshaped({E * hp, plan.intermediate_padded / 32});
  }
  p.w13_bias = b13;
  p.w2_bias = b2;
  std::vector<float> hidden(static_cast<std::size_t>(s.tokens * hp), 0.0f);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    std::copy_n(&m.hidden[static_cast<std::size_t>(t * H)], H, &hidden[static_cast<std::size_t>(t * hp)]);
  }
  p.hidden = Tensor::from_f32(hidden, {s.tokens, hp}, DType::BF16);
  Tensor ids(DType::I32, {s.tokens, s.topk});
  std::copy(m.topk_ids.begin(), m.topk_ids.end(), ids.as_mut<std::int32_t>().begin());
  p.topk_ids = ids;
  p.topk_weights = Tensor::from_f32(m.topk_weights, {s.tokens, s.topk});
  p.gate_mode = pipe.mode;
  p.is_shuffled = pipe.shuffled;
  p.hidden_pad = plan.hidden_pad;
  p.intermediate_pad = plan.intermediate_pad;
  return p;
}

class LayoutPipelineTest : public ::testing::TestWithParam<Pipeline> {};

// tp = 1: H = 224 -> 256, I = 192 -> 256; the rank is the whole layer.
TEST_P(LayoutPipelineTest, SingleRankMatchesTheCanonicalLayer) {
  const MoeShape s{4, 224, 256, 192, 256, 2, 5};
  const CanonicalMoe m = make_canonical(s, 61);
  const auto plan = layout::make_tp_plan(s.units, s.hidden, 1, 0, "test");
  ASSERT_EQ(plan.intermediate_pad, 64);
  const auto y = run_host(rank_problem(m, plan, GetParam()));
  const auto expected = expected_output(m, s.units);
  EXPECT_LT(nmse(y, expected), kMatchNmse);
  EXPECT_EQ(first_mismatch(y, expected, s.hidden), "");
}

// tp = 4, I = 704 (22 blocks of 32): ranks 0-2 load 192 units each and rank 3 loads 128, while
// intermediate_pad = 256 - 704/4 = 80 tells the kernel only 176 are real. Each rank matches the
// expectation of exactly the units it uses; the ranks' sum misses units 176-191, 368-383 and
// 560-575 of the layer.
TEST_P(LayoutPipelineTest, TensorParallelRanksSumToTheLayerMinusTheHiddenUnits) {
  const MoeShape s{4, 224, 256, 704, 256, 2, 5};
  const CanonicalMoe m = make_canonical(s, 67);
  std::vector<double> sum(static_cast<std::size_t>(s.tokens * s.hidden), 0.0);
  std::vector<double> dropped_expectation = sum;
  for (std::int64_t rank = 0; rank < 4; ++rank) {
    const auto plan = layout::make_tp_plan(s.units, s.hidden, 4, rank, "test");
    const std::int64_t used = std::min(plan.units_loaded, plan.shard_units);
    const auto y = run_host(rank_problem(m, plan, GetParam()));
    const auto expected = expected_output(m, {plan.unit_start, plan.unit_start + used, rank == 0});
    EXPECT_LT(nmse(y, expected), kMatchNmse) << "rank " << rank;
    for (std::size_t i = 0; i < sum.size(); ++i) {
      sum[i] += y[i];
      dropped_expectation[i] += expected[i];
    }
  }
  EXPECT_LT(nmse(sum, dropped_expectation), kMatchNmse);
  EXPECT_GT(nmse(sum, expected_output(m, s.units)), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(SglangPipelines, LayoutPipelineTest, ::testing::ValuesIn(kPipelines),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mxg::testing
