// Tensor-parallel slicing (LAYOUTS.md §4): the published table re-derived from the prose rule by
// handing out 32-unit blocks rank by rank, and each expert tensor kind's slice checked unit by
// unit (gate row, up row, nibble pair, scale block) against the checkpoint.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/tests/byte_trace.hpp"
#include "kernels/layout/tp_slice.hpp"

namespace mxg::layout {
namespace {

// LAYOUTS.md §4 table for I = 2880, as published.
struct TableRow {
  std::int64_t tp, shard;
  std::vector<std::int64_t> loaded;
  std::int64_t ip, pad;
};
const TableRow kPublished[] = {
    {1, 2880, {2880}, 3072, 192},
    {2, 1440, {1440, 1440}, 1536, 96},
    {4, 720, {736, 736, 736, 672}, 768, 48},
    {8, 360, {384, 384, 384, 384, 384, 384, 384, 192}, 512, 152},
};

// The prose rule, computed another way: ranks take turns to receive whole 32-unit blocks, each
// at most ceil(blocks / tp) of them, until none are left; I_p counts up from I/tp to a multiple
// of 256.
std::vector<std::int64_t> units_by_handing_out_blocks(std::int64_t intermediate, std::int64_t tp) {
  std::int64_t blocks = intermediate / 32;
  std::int64_t quota = blocks / tp + (blocks % tp != 0 ? 1 : 0);
  std::vector<std::int64_t> units(static_cast<std::size_t>(tp), 0);
  for (auto& u : units) {
    const std::int64_t take = std::min(quota, blocks);
    u = take * 32;
    blocks -= take;
  }
  return units;
}
std::int64_t padded_by_counting(std::int64_t x) {
  while (x % 256 != 0) ++x;
  return x;
}

TEST(TpSlice, GptOssTableComesOutOfThePlan) {
  for (const auto& row : kPublished) {
    const auto derived = units_by_handing_out_blocks(2880, row.tp);
    EXPECT_EQ(derived, row.loaded) << "tp " << row.tp << ": the prose rule and the published table disagree";
    std::int64_t next_start = 0;
    for (std::int64_t r = 0; r < row.tp; ++r) {
      const TpPlan p = make_tp_plan(2880, 2880, row.tp, r, "plan");
      EXPECT_EQ(p.shard_units, row.shard);
      EXPECT_EQ(p.units_loaded, derived[static_cast<std::size_t>(r)]) << "tp " << row.tp << " rank " << r;
      EXPECT_EQ(p.unit_start, next_start);
      EXPECT_EQ(p.unit_end, next_start + p.units_loaded);
      EXPECT_EQ(p.intermediate_padded, row.ip);
      EXPECT_EQ(p.intermediate_padded, padded_by_counting(2880 / row.tp));
      EXPECT_EQ(p.intermediate_pad, row.pad);
      EXPECT_EQ(p.hidden_padded, 3072);
      EXPECT_EQ(p.hidden_pad, 192);
      // The bug class of §4: loaded units the kernel's intermediate_pad calls absent.
      EXPECT_EQ(p.real_units_in_pad, std::max<std::int64_t>(0, derived[static_cast<std::size_t>(r)] - row.shard));
      next_start = p.unit_end;
    }
    EXPECT_EQ(next_start, 2880);
  }
}

TEST(TpSlice, MoreRanksThanBlocksLeavesLateRanksEmpty) {
  // I = 64 is two blocks: at tp 4 ranks 0 and 1 take one each, ranks 2 and 3 nothing.
  const auto derived = units_by_handing_out_blocks(64, 4);
  ASSERT_EQ(derived.size(), 4u);
  for (std::int64_t r = 0; r < 4; ++r) {
    EXPECT_EQ(derived[static_cast<std::size_t>(r)], r < 2 ? 32 : 0) << "rank " << r;
    EXPECT_EQ(make_tp_plan(64, 64, 4, r, "p").units_loaded, derived[static_cast<std::size_t>(r)]) << "rank " << r;
  }
}

TEST(TpSlice, PlanPreconditions) {
  EXPECT_THROW(make_tp_plan(2880, 2880, 4, 4, "p"), InputError);
  EXPECT_THROW(make_tp_plan(2880, 2880, 0, 0, "p"), InputError);
  EXPECT_THROW(make_tp_plan(2880, 2880, 2, -1, "p"), InputError);
  try {
    make_tp_plan(2890, 2880, 1, 0, "gate_up");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "gate_up: intermediate size I = 2890 is not a multiple of 32 (MXFP4 tp slicing needs "
                           "intermediate size I % 32 == 0)");
  }
}

TEST(TpSlice, KindFromHfNameAndExplicitName) {
  EXPECT_EQ(expert_tensor_from_name("model.layers.7.mlp.experts.gate_up_proj_blocks"),
            ExpertTensor::gate_up_proj_blocks);
  EXPECT_EQ(expert_tensor_from_name("model.layers.7.mlp.experts.down_proj_bias"), ExpertTensor::down_proj_bias);
  EXPECT_EQ(expert_tensor_from_name("model.layers.7.mlp.router.weight"), std::nullopt);
  EXPECT_EQ(parse_expert_tensor("down_proj_scales"), ExpertTensor::down_proj_scales);
  EXPECT_EQ(parse_expert_tensor("down_proj"), std::nullopt);
}

// Small model: I = 320 (10 blocks), H = 96. At tp 4 the ranks load 96, 96, 96, 32 units; I/tp = 80
// pads to I_p = 256; H_p = 256.
constexpr std::int64_t kI = 320, kH = 96, kE = 2;

std::uint32_t code(std::int64_t e, std::int64_t r, std::int64_t b, std::int64_t rows, std::int64_t row_bytes) {
  return static_cast<std::uint32_t>((e * rows + r) * row_bytes + b + 1);
}

std::vector<std::uint32_t> sliced(ExpertTensor kind, const Shape& shape, const TpPlan& plan, DType dtype = DType::U8) {
  return testing::trace_tensor_codes(dtype, shape, [&](const Tensor& t) { return tp_slice(t, kind, plan, "t"); });
}

TEST(TpSlice, GateUpBlocksScalesAndBiasTakeBothRowsOfEachUnit) {
  for (std::int64_t rank = 0; rank < 4; ++rank) {
    const TpPlan p = make_tp_plan(kI, kH, 4, rank, "p");
    ASSERT_EQ(p.intermediate_padded, 256);
    struct Case {
      ExpertTensor kind;
      Shape shape;
      std::int64_t row_bytes, padded_row_bytes;
      DType dtype;
    };
    const Case cases[] = {
        {ExpertTensor::gate_up_proj_blocks, {kE, 2 * kI, kH / 32, 16}, kH / 2, 256 / 2, DType::U8},
        {ExpertTensor::gate_up_proj_scales, {kE, 2 * kI, kH / 32}, kH / 32, 256 / 32, DType::U8},
        {ExpertTensor::gate_up_proj_bias, {kE, 2 * kI}, 2, 2, DType::BF16},
    };
    for (const auto& c : cases) {
      const auto out = sliced(c.kind, c.shape, p, c.dtype);
      const std::int64_t rows_out = 2 * p.intermediate_padded;
      ASSERT_EQ(out.size(), static_cast<std::size_t>(kE * rows_out * c.padded_row_bytes));
      std::vector<std::uint32_t> expected(out.size(), 0);  // zero padding everywhere else
      for (std::int64_t e = 0; e < kE; ++e) {
        for (std::int64_t unit = p.unit_start; unit < p.unit_end; ++unit) {
          const std::int64_t local = unit - p.unit_start;
          for (std::int64_t h = 0; h < 2; ++h) {  // gate row 2u, up row 2u+1 stay paired
            for (std::int64_t b = 0; b < c.row_bytes; ++b) {
              expected[static_cast<std::size_t>((e * rows_out + 2 * local + h) * c.padded_row_bytes + b)] =
                  code(e, 2 * unit + h, b, 2 * kI, c.row_bytes);
            }
          }
        }
      }
      EXPECT_TRUE(testing::same_codes(out, expected)) << expert_tensor_name(c.kind) << " rank " << rank;
    }
  }
}

TEST(TpSlice, DownBlocksAndScalesTakeColumnsOfEachUnit) {
  for (std::int64_t rank = 0; rank < 4; ++rank) {
    const TpPlan p = make_tp_plan(kI, kH, 4, rank, "p");
    const std::int64_t hp = p.hidden_padded, ip = p.intermediate_padded;
    // Blocks: unit u is a nibble of byte u/2; a rank's units start on a block, so whole bytes move.
    const auto blocks = sliced(ExpertTensor::down_proj_blocks, {kE, kH, kI / 32, 16}, p);
    std::vector<std::uint32_t> expected(static_cast<std::size_t>(kE * hp * ip / 2), 0);
    for (std::int64_t e = 0; e < kE; ++e)
      for (std::int64_t row = 0; row < kH; ++row)
        for (std::int64_t unit = p.unit_start; unit < p.unit_end; unit += 2)
          expected[static_cast<std::size_t>((e * hp + row) * (ip / 2) + (unit - p.unit_start) / 2)] =
              code(e, row, unit / 2, kH, kI / 2);
    EXPECT_TRUE(testing::same_codes(blocks, expected)) << "down_proj_blocks rank " << rank;
    // Scales: one per 32 units.
    const auto scales = sliced(ExpertTensor::down_proj_scales, {kE, kH, kI / 32}, p);
    expected.assign(static_cast<std::size_t>(kE * hp * ip / 32), 0);
    for (std::int64_t e = 0; e < kE; ++e)
      for (std::int64_t row = 0; row < kH; ++row)
        for (std::int64_t unit = p.unit_start; unit < p.unit_end; unit += 32)
          expected[static_cast<std::size_t>((e * hp + row) * (ip / 32) + (unit - p.unit_start) / 32)] =
              code(e, row, unit / 32, kH, kI / 32);
    EXPECT_TRUE(testing::same_codes(scales, expected)) << "down_proj_scales rank " << rank;
  }
}

TEST(TpSlice, DownBiasOnlyOnRankZeroPaddedToHp) {
  const Tensor bias = Tensor::from_f32(std::vector<float>(kE * kH, 1.5f), {kE, kH}, DType::BF16);
  const Tensor r0 = tp_slice(bias, ExpertTensor::down_proj_bias, make_tp_plan(kI, kH, 2, 0, "p"), "b");
  const Tensor r1 = tp_slice(bias, ExpertTensor::down_proj_bias, make_tp_plan(kI, kH, 2, 1, "p"), "b");
  ASSERT_EQ(r0.shape(), (Shape{kE, 256}));
  EXPECT_EQ(r0.dtype(), DType::BF16);
  const auto v0 = r0.to_f32(), v1 = r1.to_f32();
  for (std::int64_t e = 0; e < kE; ++e)
    for (std::int64_t h = 0; h < 256; ++h) {
      EXPECT_EQ(v0[static_cast<std::size_t>(e * 256 + h)], h < kH ? 1.5f : 0.0f);
      EXPECT_EQ(v1[static_cast<std::size_t>(e * 256 + h)], 0.0f);
    }
}

TEST(TpSlice, GptOssShapesOfEveryTp) {
  for (std::int64_t tp : {1, 2, 4, 8}) {
    const TpPlan p = make_tp_plan(2880, 2880, tp, tp - 1, "p");
    EXPECT_EQ(tp_slice_shape(ExpertTensor::gate_up_proj_blocks, p, 32),
              (Shape{32, 2 * p.intermediate_padded, 1536}));
    EXPECT_EQ(tp_slice_shape(ExpertTensor::gate_up_proj_scales, p, 32), (Shape{32, 2 * p.intermediate_padded, 96}));
    EXPECT_EQ(tp_slice_shape(ExpertTensor::down_proj_blocks, p, 32), (Shape{32, 3072, p.intermediate_padded / 2}));
    EXPECT_EQ(tp_slice_shape(ExpertTensor::down_proj_scales, p, 32), (Shape{32, 3072, p.intermediate_padded / 32}));
    EXPECT_EQ(tp_slice_shape(ExpertTensor::down_proj_bias, p, 32), (Shape{32, 3072}));
  }
  // A real-size expert slice: tp 8 rank 7 (192 units) of one GPT-OSS expert.
  const TpPlan p = make_tp_plan(2880, 2880, 8, 7, "p");
  const Tensor w2 = testing::random_tensor(DType::U8, {1, 2880, 90, 16}, 9);
  const Tensor out = tp_slice(w2, ExpertTensor::down_proj_blocks, p, "w2");
  ASSERT_EQ(out.shape(), (Shape{1, 3072, 256}));
  const auto src = w2.as<std::uint8_t>();
  const auto dst = out.as<std::uint8_t>();
  EXPECT_EQ(dst[0], src[2688 / 2]);                       // first unit of rank 7
  EXPECT_EQ(dst[2879 * 256 + 95], src[2879 * 1440 + 1439]);  // last unit, last hidden row
  EXPECT_EQ(dst[2879 * 256 + 96], 0);                      // intermediate padding
  EXPECT_EQ(dst[2880 * 256], 0);                           // hidden padding
}

TEST(TpSlice, ShapeAndPlanMustAgree) {
  const TpPlan p = make_tp_plan(kI, kH, 2, 0, "p");
  try {
    tp_slice(Tensor(DType::U8, {kE, 2 * kI + 2, kH / 2}), ExpertTensor::gate_up_proj_blocks, p, "in.st: w13");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "in.st: w13: gate_up_proj_blocks rows = 642 but I = 320, H = 96 need 640");
  }
  EXPECT_THROW(tp_slice(Tensor(DType::U8, {kE, 2 * kI}), ExpertTensor::gate_up_proj_scales, p, "t"), InputError);
  EXPECT_THROW(tp_slice(Tensor(DType::BF16, {kE, kH, 5}), ExpertTensor::down_proj_scales, p, "t"), InputError);
  // I and H come from the shape; a given value that disagrees is refused, and biases take the given one.
  EXPECT_THROW(tp_plan_for_tensor(ExpertTensor::down_proj_blocks, {kE, kH, kI / 2}, 2, 0, {kI + 32, {}}, "t"),
               InputError);
  const TpPlan from_bias = tp_plan_for_tensor(ExpertTensor::down_proj_bias, {kE, kH}, 2, 1, {kI, {}}, "t");
  EXPECT_EQ(from_bias.intermediate, kI);
  EXPECT_EQ(from_bias.hidden, kH);
}

}  // namespace
}  // namespace mxg::layout
