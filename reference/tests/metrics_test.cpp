// Tests of the comparison metrics and the error attribution against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/common/errors.hpp"
#include "reference/metrics.hpp"
#include "reference/tests/layer_fixture.hpp"

namespace mxg::ref::testing {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(CompareValues, HandComputedStatistics) {
  // y = (1, 2, 3), r = (1, 2, 4): sum (y-r)^2 = 1, sum r^2 = 21 -> NMSE 1/21;
  // RMS(r) = sqrt(21/3) = sqrt(7), max |y-r| = 1 at index 2 -> max_rel 1/sqrt(7);
  // cosine = (1 + 4 + 12) / (sqrt(14) sqrt(21)) = 17 / sqrt(294).
  const ErrorStats s = compare_values(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 4});
  EXPECT_EQ(s.elements, 3);
  EXPECT_EQ(s.finite_pairs, 3);
  EXPECT_FALSE(s.any_nonfinite());
  EXPECT_DOUBLE_EQ(s.nmse, 1.0 / 21.0);
  EXPECT_DOUBLE_EQ(s.max_abs, 1.0);
  EXPECT_EQ(s.max_abs_index, 2);
  EXPECT_DOUBLE_EQ(s.rms_ref, std::sqrt(7.0));
  EXPECT_DOUBLE_EQ(s.max_rel, 1.0 / std::sqrt(7.0));
  EXPECT_DOUBLE_EQ(s.cosine, 17.0 / std::sqrt(294.0));
}

TEST(CompareValues, ExactMatchAndSignFlip) {
  const ErrorStats same = compare_values(std::vector<double>{-1, 0.5}, std::vector<double>{-1, 0.5});
  EXPECT_EQ(same.nmse, 0.0);
  EXPECT_EQ(same.max_rel, 0.0);
  EXPECT_EQ(same.cosine, 1.0);
  // y = -r: sum (2r)^2 / sum r^2 = 4; cosine -1; max |y-r| = 2 * 3 = 6, RMS(r) = sqrt(10/2) = sqrt(5).
  const ErrorStats flip = compare_values(std::vector<double>{-1, 3}, std::vector<double>{1, -3});
  EXPECT_DOUBLE_EQ(flip.nmse, 4.0);
  EXPECT_DOUBLE_EQ(flip.cosine, -1.0);
  EXPECT_DOUBLE_EQ(flip.max_rel, 6.0 / std::sqrt(5.0));
}

TEST(CompareValues, ZeroReferenceIsDefined) {
  const ErrorStats both_zero = compare_values(std::vector<double>{0, 0}, std::vector<double>{0, 0});
  EXPECT_EQ(both_zero.nmse, 0.0);
  EXPECT_EQ(both_zero.max_rel, 0.0);
  EXPECT_EQ(both_zero.cosine, 1.0);
  const ErrorStats r_zero = compare_values(std::vector<double>{0, 0.5}, std::vector<double>{0, 0});
  EXPECT_EQ(r_zero.nmse, kInf);
  EXPECT_EQ(r_zero.max_rel, kInf);
  EXPECT_EQ(r_zero.cosine, 0.0);
  const ErrorStats y_zero = compare_values(std::vector<double>{0, 0}, std::vector<double>{0, 2});
  EXPECT_DOUBLE_EQ(y_zero.nmse, 1.0);
  EXPECT_EQ(y_zero.cosine, 0.0);
  const ErrorStats empty = compare_values(std::vector<double>{}, std::vector<double>{});
  EXPECT_EQ(empty.nmse, 0.0);
  EXPECT_EQ(empty.cosine, 1.0);
}

TEST(CompareValues, NonFiniteCountedFirstAndLeftOutOfTheStatistics) {
  // Pairs 0 (NaN in y), 2 (inf in y) and 3 (-inf in r) are left out; pairs 1 and 4 remain:
  // y = (2, 1), r = (1, 1): NMSE = 1 / 2.
  const ErrorStats s = compare_values(std::vector<double>{kNaN, 2, kInf, 5, 1},
                                      std::vector<double>{1, 1, 1, -kInf, 1});
  EXPECT_EQ(s.nan_test, 1);
  EXPECT_EQ(s.inf_test, 1);
  EXPECT_EQ(s.nan_ref, 0);
  EXPECT_EQ(s.inf_ref, 1);
  EXPECT_EQ(s.nonfinite_test(), 2);
  EXPECT_EQ(s.nonfinite_ref(), 1);
  EXPECT_TRUE(s.any_nonfinite());
  EXPECT_EQ(s.finite_pairs, 2);
  EXPECT_DOUBLE_EQ(s.nmse, 0.5);
  EXPECT_EQ(s.max_abs_index, 1);
  // Nothing finite at all: the statistics are NaN, never a flattering 0.
  const ErrorStats none = compare_values(std::vector<double>{kNaN}, std::vector<double>{1});
  EXPECT_TRUE(std::isnan(none.nmse));
  EXPECT_TRUE(std::isnan(none.cosine));
}

TEST(CompareTensors, MixedDtypesAndShapeMismatch) {
  const Tensor y = bf16_tensor({1, 2, 3, 4}, {2, 2});
  const Tensor r = f32_tensor({1, 2, 3, 5}, {2, 2});
  // A BF16 output against an F32 reference: sum (y-r)^2 = 1, sum r^2 = 1 + 4 + 9 + 25 = 39.
  const ErrorStats s = compare_tensors(y, r, "a.st: y", "b.st: y");
  EXPECT_DOUBLE_EQ(s.nmse, 1.0 / 39.0);
  try {
    compare_tensors(y, f32_tensor({1, 2, 3, 4}, {4, 1}), "a.st: y", "b.st: y");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "a.st: y: shape [2, 2] differs from b.st: y: shape [4, 1]");
  }
  EXPECT_THROW(compare_tensors(Tensor(DType::I32, {2, 2}), r, "a", "b"), InputError);
}

TEST(Attribution, HandWorkedShares) {
  // T = 2, H = 32 (tiles 0 and 1), k = 2. Token 0: expert 0 (w 0.75), expert 1 (w 0.25);
  // token 1: expert 1 (0.5), expert 2 (0.5). The only error: token 0, hidden row 17 (tile 1), 2.
  //   (expert 0, tile 1): 0.75^2 * 4 = 2.25;  (expert 1, tile 1): 0.25^2 * 4 = 0.25;  total 2.5.
  // Shares 0.9 and 0.1; expert 2 and every tile 0 have no error.
  std::vector<double> yv(64, 1.0), rv(64, 1.0);
  yv[17] = 3.0;
  const Routing routing{2, 2, {0, 1, 1, 2}, {0.75, 0.25, 0.5, 0.5}};
  const ErrorAttribution a = attribute_error(f32_tensor(yv, {2, 32}), f32_tensor(rv, {2, 32}), routing);
  EXPECT_DOUBLE_EQ(a.total_error, 2.5);
  ASSERT_EQ(a.tiles.size(), 2u);
  EXPECT_EQ(a.tiles[0].expert, 0);
  EXPECT_EQ(a.tiles[0].tile, 1);
  EXPECT_DOUBLE_EQ(a.tiles[0].error, 2.25);
  EXPECT_DOUBLE_EQ(a.tiles[0].share, 0.9);
  EXPECT_EQ(a.tiles[1].expert, 1);
  EXPECT_EQ(a.tiles[1].tile, 1);
  EXPECT_DOUBLE_EQ(a.tiles[1].share, 0.1);
  ASSERT_EQ(a.experts.size(), 3u);
  EXPECT_EQ(a.experts[0].expert, 0);
  EXPECT_EQ(a.experts[0].tokens, 1);
  EXPECT_EQ(a.experts[1].expert, 1);
  EXPECT_EQ(a.experts[1].tokens, 2);
  EXPECT_DOUBLE_EQ(a.experts[1].share, 0.1);
  EXPECT_EQ(a.experts[2].expert, 2);
  EXPECT_EQ(a.experts[2].error, 0.0);
}

TEST(Attribution, NonFiniteRanksFirstAndLastTileIsPartial) {
  // H = 40: tiles 0, 1 (rows 16..31) and 2 (rows 32..39, partial). Token 0 -> expert 3 has a NaN at
  // row 35 (tile 2); token 1 -> expert 1 has a large finite error at row 0 (tile 0).
  std::vector<double> yv(80, 0.0), rv(80, 0.0);
  yv[35] = kNaN;
  yv[40] = 100.0;
  const Routing routing{2, 1, {3, 1}, {1.0, 1.0}};
  const ErrorAttribution a = attribute_error(f32_tensor(yv, {2, 40}), f32_tensor(rv, {2, 40}), routing, 1);
  ASSERT_EQ(a.tiles.size(), 1u);  // top = 1
  EXPECT_EQ(a.tiles[0].expert, 3);
  EXPECT_EQ(a.tiles[0].tile, 2);
  EXPECT_EQ(a.tiles[0].nonfinite, 1);
  EXPECT_EQ(a.experts[0].expert, 3);
  EXPECT_EQ(a.experts[1].expert, 1);
  EXPECT_DOUBLE_EQ(a.experts[1].share, 1.0);
}

TEST(CompareValues, HugeAndTinyValuesNeitherOverflowNorUnderflow) {
  // Reproduces the F64 findings: squares of 1e200 overflowed (max_rel 0, cosine null) and squares of
  // 1e-200 underflowed (100 % error read as nmse 0, cosine 1). Expectations by hand:
  // y = +1e200, r = -1e200: (y-r)^2 / r^2 = 4, RMS(r) = 1e200, max_rel = 2e200 / 1e200 = 2, cosine -1.
  const ErrorStats big = compare_values(std::vector<double>{1e200}, std::vector<double>{-1e200});
  EXPECT_DOUBLE_EQ(big.nmse, 4.0);
  EXPECT_DOUBLE_EQ(big.max_rel, 2.0);
  EXPECT_DOUBLE_EQ(big.cosine, -1.0);
  EXPECT_DOUBLE_EQ(big.max_abs, 2e200);
  // y = 1e-200, r = 2e-200: (1e-200)^2 / (2e-200)^2 = 0.25, max_rel = 1e-200 / 2e-200 = 0.5, cosine 1.
  const ErrorStats tiny = compare_values(std::vector<double>{1e-200}, std::vector<double>{2e-200});
  EXPECT_DOUBLE_EQ(tiny.nmse, 0.25);
  EXPECT_DOUBLE_EQ(tiny.max_rel, 0.5);
  EXPECT_DOUBLE_EQ(tiny.cosine, 1.0);
  // Identical 1e200 tensors: a perfect match, cosine exactly 1, nmse 0.
  const ErrorStats same = compare_values(std::vector<double>{1e200, -3e200}, std::vector<double>{1e200, -3e200});
  EXPECT_EQ(same.nmse, 0.0);
  EXPECT_EQ(same.cosine, 1.0);
  // Extremes of the range: the difference itself exceeds DBL_MAX; the ratios stay finite.
  const double m = std::numeric_limits<double>::max();
  const ErrorStats edge = compare_values(std::vector<double>{m}, std::vector<double>{-m});
  EXPECT_DOUBLE_EQ(edge.nmse, 4.0);
  EXPECT_DOUBLE_EQ(edge.max_rel, 2.0);
}

TEST(Attribution, LargestInt32ExpertIdDoesNotOverflow) {
  // Reproduces C2: expert id 2147483647 passed the id check, then "id + 1" overflowed and the dense
  // per-expert table was written out of bounds. Only the two named experts get rows.
  std::vector<double> yv(32, 1.0), rv(32, 1.0);
  yv[0] = 2.0;  // token 0, tile 0
  const Routing routing{2, 1, {2147483647, 5}, {1.0, 1.0}};
  const ErrorAttribution a = attribute_error(f32_tensor(yv, {2, 16}), f32_tensor(rv, {2, 16}), routing);
  ASSERT_EQ(a.experts.size(), 2u);
  EXPECT_EQ(a.experts[0].expert, 2147483647);
  EXPECT_DOUBLE_EQ(a.experts[0].share, 1.0);
  EXPECT_EQ(a.experts[1].expert, 5);
  ASSERT_EQ(a.tiles.size(), 1u);
  EXPECT_EQ(a.tiles[0].expert, 2147483647);
}

TEST(Attribution, RejectsARoutingOfOtherTokens) {
  const Routing routing{3, 1, {0, 0, 0}, {1, 1, 1}};
  EXPECT_THROW(attribute_error(f32_tensor({1, 2}, {2, 1}), f32_tensor({1, 2}, {2, 1}), routing), InputError);
}

}  // namespace
}  // namespace mxg::ref::testing
