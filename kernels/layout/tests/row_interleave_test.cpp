// Gate/up de-interleave / interleave (LAYOUTS.md §5): expected layouts built unit by unit, round
// trips over weights, scales and biases, and the errors for odd row counts.
#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/tests/byte_trace.hpp"

namespace mxg::layout {
namespace {

using testing::same_codes;
using testing::trace_codes;

// Expected de-interleaved order, written from the prose: every gate row (even checkpoint rows) in
// unit order, then every up row (odd checkpoint rows).
std::vector<std::uint32_t> expected_deinterleaved(const ExpertRows& g) {
  std::vector<std::uint32_t> codes;
  auto code = [&](std::int64_t e, std::int64_t r, std::int64_t b) {
    return static_cast<std::uint32_t>((e * g.rows + r) * g.row_bytes + b + 1);
  };
  for (std::int64_t e = 0; e < g.experts; ++e) {
    for (std::int64_t unit = 0; unit < g.rows / 2; ++unit) {  // gate half
      for (std::int64_t b = 0; b < g.row_bytes; ++b) codes.push_back(code(e, 2 * unit, b));
    }
    for (std::int64_t unit = 0; unit < g.rows / 2; ++unit) {  // up half
      for (std::int64_t b = 0; b < g.row_bytes; ++b) codes.push_back(code(e, 2 * unit + 1, b));
    }
  }
  return codes;
}

const ExpertRows kShapes[] = {
    {1, 2, 1},     {3, 6, 5},    {2, 10, 2},  // tiny, odd bytes, bf16 bias rows
    {4, 32, 48},   {2, 64, 96},               // scale-like
    {2, 6144, 16}, {1, 1024, 256},            // GPT-OSS tp1 / tp8 w13 rows
};

TEST(RowInterleave, DeinterleaveMatchesGateThenUpOrder) {
  for (const auto& g : kShapes) {
    const auto n = static_cast<std::size_t>(g.total_bytes());
    const auto codes =
        trace_codes(n, n, [&](auto in, auto out) { deinterleave_rows(in, out, g, "w13", Threads{1}); });
    EXPECT_TRUE(same_codes(codes, expected_deinterleaved(g))) << g.experts << "x" << g.rows << "x" << g.row_bytes;
  }
}

TEST(RowInterleave, InterleaveUndoesDeinterleave) {
  for (const auto& g : kShapes) {
    const auto n = static_cast<std::size_t>(g.total_bytes());
    const auto x = testing::random_bytes(n, 7);
    std::vector<std::byte> separated(n), back(n);
    deinterleave_rows(x, separated, g, "w13");
    interleave_rows(separated, back, g, "w13");
    EXPECT_EQ(back, x);
    // and the other way round: interleave is a bijection too
    interleave_rows(x, separated, g, "w13");
    deinterleave_rows(separated, back, g, "w13");
    EXPECT_EQ(back, x);
  }
}

TEST(RowInterleave, TensorShapesWeightsScalesBiases) {
  // 4-D checkpoint blocks keep their shape; the last two dims are the row's bytes.
  const Tensor blocks = testing::random_tensor(DType::U8, {2, 8, 3, 16}, 1);
  const Tensor d = deinterleave_rows(blocks, std::nullopt, "blocks");
  EXPECT_EQ(d.shape(), blocks.shape());
  const auto src = blocks.as<std::uint8_t>();
  const auto out = d.as<std::uint8_t>();
  // Expert 1, up unit 2 (checkpoint row 5) goes to row 4 + 2 = 6: all 48 bytes.
  for (int b = 0; b < 48; ++b) EXPECT_EQ(out[(1 * 8 + 6) * 48 + b], src[(1 * 8 + 5) * 48 + b]);
  EXPECT_TRUE(interleave_rows(d, std::nullopt, "blocks").same_bytes(blocks));

  // A BF16 bias [E, 2I] moves whole 2-byte elements.
  const Tensor bias = Tensor::from_f32(std::vector<float>{0, 1, 2, 3, 10, 11, 12, 13}, {2, 4}, DType::BF16);
  const Tensor bd = deinterleave_rows(bias, std::nullopt, "bias");
  EXPECT_EQ(bd.dtype(), DType::BF16);
  EXPECT_EQ(bd.to_f32(), (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));

  // Stacked 2-D scales [E*rows, cols] need the expert count: rows are split per expert.
  const Tensor scales = Tensor::from_f32(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}, {8, 1}, DType::U8);
  EXPECT_EQ(deinterleave_rows(scales, 2, "scales").to_f32(), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  EXPECT_EQ(deinterleave_rows(scales, 1, "scales").to_f32(), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
}

TEST(RowInterleave, ThreadCountDoesNotChangeResult) {
  const ExpertRows g{8, 256, 1536};  // 3 MiB: enough for the parallel path
  const auto n = static_cast<std::size_t>(g.total_bytes());
  const auto x = testing::random_bytes(n, 3);
  std::vector<std::byte> one(n), many(n);
  deinterleave_rows(x, one, g, "w13", Threads{1});
  deinterleave_rows(x, many, g, "w13", Threads{3});
  EXPECT_EQ(one, many);
}

TEST(RowInterleave, OddRowsAreAnInputErrorNamingTheDimension) {
  const Tensor t(DType::U8, {2, 5761, 16});
  try {
    deinterleave_rows(t, std::nullopt, "w13");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "w13: rows = 5761 is not a multiple of 2 (gate/up de-interleave needs rows % 2 == 0)");
  }
  EXPECT_THROW(interleave_rows(Tensor(DType::U8, {9, 4}), 2, "s"), InputError);  // 9 stacked rows, 2 experts
  std::vector<std::byte> small(4);
  EXPECT_THROW(deinterleave_rows(small, small, ExpertRows{1, 2, 4}, "raw"), std::invalid_argument);  // 8 != 4
}

}  // namespace
}  // namespace mxg::layout
