// The host backend against an independent fp64 MoE from the canonical layout: every consistent
// preparation matches, every inconsistent one is caught, padding is honoured, threads don't matter.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/backend/tests/host_test_util.hpp"
#include "kernels/backend/tests/moe_fixture.hpp"

namespace mxg::testing {
namespace {

struct ShapeCase {
  const char* name;
  MoeShape shape;
};

// Edge shapes: decode T = 1, hidden padding, no padding, more tokens than experts, E = 4.
const ShapeCase kShapes[] = {
    {"T1_E8_pad", {8, 96, 128, 64, 64, 2, 1}},
    {"T7_E8_hpad_ipad", {8, 96, 128, 96, 128, 2, 7}},
    {"T20_E4_nopad", {4, 128, 128, 64, 64, 2, 20}},
    {"T13_E6_k3", {6, 64, 128, 32, 64, 3, 13}},
};

struct ModeCase {
  GateMode mode;
  bool shuffled;
};
const ModeCase kModes[] = {
    {GateMode::Separated, true}, {GateMode::Interleave, true}, {GateMode::Separated, false}, {GateMode::Interleave, false}};

class ConsistentTest : public ::testing::TestWithParam<std::tuple<ShapeCase, ModeCase>> {};

// deinterleave -> (separated | interleaved) tiles + scales -> is_shuffled = true, and
// deinterleave -> no shuffle -> is_shuffled = false, in either row order.
TEST_P(ConsistentTest, MatchesCanonicalExpectation) {
  const auto& [shape_case, mode] = GetParam();
  const CanonicalMoe m = make_canonical(shape_case.shape, 11);
  const auto expected = expected_output(m, shape_case.shape.units);
  const auto p = prepare_device(m, consistent_prep(mode.mode, mode.shuffled),
                                correct_flags(shape_case.shape, mode.mode, mode.shuffled));
  const auto y = run_host(p);
  EXPECT_LT(nmse(y, expected), kMatchNmse);
  EXPECT_EQ(first_mismatch(y, expected, shape_case.shape.hidden), "");
}

std::string consistent_name(const ::testing::TestParamInfo<ConsistentTest::ParamType>& info) {
  const auto& shape = std::get<0>(info.param);
  const auto& mode = std::get<1>(info.param);
  return fmt::format("{}_{}_shuffled{}", shape.name, gate_mode_name(mode.mode), mode.shuffled ? 1 : 0);
}

INSTANTIATE_TEST_SUITE_P(AllModes, ConsistentTest,
                         ::testing::Combine(::testing::ValuesIn(kShapes), ::testing::ValuesIn(kModes)),
                         consistent_name);

// Padding is poisoned (NaN scales, biases and inputs, random bytes): a kernel that honours
// hidden_pad and intermediate_pad never reads it, so the result stays finite and correct.
TEST(HostBackend, PoisonedPaddingIsNeverRead) {
  const MoeShape s{8, 96, 128, 96, 128, 2, 9};
  const CanonicalMoe m = make_canonical(s, 5);
  const auto expected = expected_output(m, s.units);
  for (const auto& mode : kModes) {
    DevicePrep prep = consistent_prep(mode.mode, mode.shuffled);
    prep.poison_padding = true;
    const auto y = run_host(prepare_device(m, prep, correct_flags(s, mode.mode, mode.shuffled)));
    for (const double v : y) ASSERT_TRUE(std::isfinite(v));
    EXPECT_LT(nmse(y, expected), kMatchNmse) << gate_mode_name(mode.mode) << " shuffled " << mode.shuffled;
  }
}

struct Inconsistent {
  const char* name;
  DevicePrep prep;
  GateMode mode;
  bool is_shuffled;
  // Scrambled weights measure NMSE 1.4-1.9 at the test shape; a wrong bias order only moves the
  // bias term and measures 0.13, so its bound is lower (still 1000x the NMSE of a correct read).
  double min_nmse = kCaughtNmse;
};

// The bug classes of DESIGN.md: each preparation disagrees with the kernel's read.
const Inconsistent kInconsistent[] = {
    // The original bug: is_shuffled lost, the preshuffle-off path reads shuffled bytes.
    {"shuffled_read_unshuffled", {RowOrder::Separated, RowOrder::Separated, true, ScaleShuffle::Separated},
     GateMode::Separated, false},
    // ... combined with interleaved tiles.
    {"interleaved_tiles_read_unshuffled_separated",
     {RowOrder::BlockInterleaved, RowOrder::Separated, true, ScaleShuffle::Interleaved}, GateMode::Separated, false},
    // Interleaved tiles where separated was expected, flag intact.
    {"interleaved_tiles_read_separated",
     {RowOrder::BlockInterleaved, RowOrder::Separated, true, ScaleShuffle::Interleaved}, GateMode::Separated, true},
    {"separated_tiles_read_interleave", {RowOrder::Separated, RowOrder::Separated, true, ScaleShuffle::Separated},
     GateMode::Interleave, true},
    {"plain_separated_read_interleave", {RowOrder::Separated, RowOrder::Separated, false, ScaleShuffle::None},
     GateMode::Interleave, false},
    {"unshuffled_read_shuffled", {RowOrder::Separated, RowOrder::Separated, false, ScaleShuffle::None},
     GateMode::Separated, true},
    // No de-interleave: checkpoint rows g0,u0,g1,u1,... read as [gate | up].
    {"checkpoint_rows_read_separated", {RowOrder::Checkpoint, RowOrder::Checkpoint, true, ScaleShuffle::Separated},
     GateMode::Separated, true},
    // A partial prep bug: weights de-interleaved, bias left interleaved.
    {"bias_left_interleaved", {RowOrder::Separated, RowOrder::Checkpoint, true, ScaleShuffle::Separated},
     GateMode::Separated, true, 0.05},
    // Weights shuffled, scales not (and the reverse).
    {"scales_not_shuffled", {RowOrder::Separated, RowOrder::Separated, true, ScaleShuffle::None},
     GateMode::Separated, true},
    {"only_scales_shuffled", {RowOrder::Separated, RowOrder::Separated, false, ScaleShuffle::Separated},
     GateMode::Separated, false},
};

class InconsistentTest : public ::testing::TestWithParam<Inconsistent> {};

TEST_P(InconsistentTest, IsCaught) {
  const Inconsistent& c = GetParam();
  // H_p/32 and I_p/32 are multiples of 8, so unpadded scales can also be read as shuffled.
  const MoeShape s{8, 224, 256, 256, 256, 2, 8};
  const CanonicalMoe m = make_canonical(s, 23);
  const auto expected = expected_output(m, s.units);
  const auto y = run_host(prepare_device(m, c.prep, correct_flags(s, c.mode, c.is_shuffled)));
  const double error = nmse(y, expected);
  EXPECT_GT(error, c.min_nmse);
  RecordProperty("nmse", fmt::format("{:.3g}", error));
}

INSTANTIATE_TEST_SUITE_P(BugClasses, InconsistentTest, ::testing::ValuesIn(kInconsistent),
                         [](const auto& info) { return std::string(info.param.name); });

// The real bug class of LAYOUTS.md §4 in miniature: 96 units loaded into I_p = 128, but
// intermediate_pad says 48 (as if 80 were loaded), so the kernel drops units 80..95. The error is
// exactly those units: zeroing them in the expectation makes it match.
TEST(HostBackend, OverstatedIntermediatePadDropsOnlyTheLastUnits) {
  const MoeShape s{8, 96, 128, 96, 128, 2, 12};
  const CanonicalMoe m = make_canonical(s, 31);
  for (const auto& mode : kModes) {
    KernelFlags flags = correct_flags(s, mode.mode, mode.shuffled);
    flags.intermediate_pad = 48;
    const auto y = run_host(prepare_device(m, consistent_prep(mode.mode, mode.shuffled), flags));
    EXPECT_GT(nmse(y, expected_output(m, s.units)), 1e-2) << "dropping 16 of 96 units must be visible";
    const auto dropped = expected_output(m, 80);
    EXPECT_LT(nmse(y, dropped), kMatchNmse);
    EXPECT_EQ(first_mismatch(y, dropped, s.hidden), "");
  }
}

// Reading zero padding is harmless: a zero unit has gate = 0, so SwiGLU gives 0. An understated
// pad is therefore invisible by construction (a BLIND cell the matrix must expect).
TEST(HostBackend, UnderstatedIntermediatePadReadsZeroUnitsHarmlessly) {
  const MoeShape s{8, 96, 128, 96, 128, 2, 6};
  const CanonicalMoe m = make_canonical(s, 37);
  KernelFlags flags = correct_flags(s, GateMode::Separated, true);
  flags.intermediate_pad = 0;
  const auto y = run_host(prepare_device(m, consistent_prep(GateMode::Separated, true), flags));
  EXPECT_LT(nmse(y, expected_output(m, s.units)), kMatchNmse);
}

// A hidden_pad smaller than the real padding makes the kernel read padded inputs; when those are
// poisoned the output is NaN, which shows the last hidden_pad inputs are exactly the skipped ones.
TEST(HostBackend, HiddenPadBoundsTheInputsRead) {
  const MoeShape s{4, 96, 128, 64, 64, 2, 3};
  const CanonicalMoe m = make_canonical(s, 41);
  DevicePrep prep = consistent_prep(GateMode::Separated, false);
  prep.poison_padding = true;
  KernelFlags flags = correct_flags(s, GateMode::Separated, false);
  flags.hidden_pad = 31;  // one padded input too many
  const auto y = run_host(prepare_device(m, prep, flags));
  ASSERT_EQ(y.size(), static_cast<std::size_t>(s.tokens * (s.hidden_padded - 31)));
  EXPECT_TRUE(std::isnan(y[0]));
}

TEST(HostBackend, ResultIsIndependentOfThreadCount) {
  const MoeShape s{8, 96, 128, 96, 128, 2, 40};
  const CanonicalMoe m = make_canonical(s, 43);
  const auto p = prepare_device(m, consistent_prep(GateMode::Interleave, true),
                                correct_flags(s, GateMode::Interleave, true));
  BackendOptions one;
  one.threads = 1;
  const Tensor reference = make_backend("host", one)->run(p);
  for (const int threads : {2, 3, 7}) {
    BackendOptions options;
    options.threads = threads;
    EXPECT_TRUE(make_backend("host", options)->run(p).same_bytes(reference)) << threads << " threads";
  }
}

// Skewed routing: every token on expert 3 (and one more), most experts idle.
TEST(HostBackend, SkewedRoutingAndIdleExperts) {
  const MoeShape s{8, 96, 128, 64, 64, 2, 10};
  CanonicalMoe m = make_canonical(s, 47);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    m.topk_ids[static_cast<std::size_t>(2 * t)] = 3;
    m.topk_ids[static_cast<std::size_t>(2 * t + 1)] = t % 2 == 0 ? 5 : 0;
  }
  const auto p = prepare_device(m, consistent_prep(GateMode::Separated, true), correct_flags(s, GateMode::Separated, true));
  EXPECT_LT(nmse(run_host(p), expected_output(m, s.units)), kMatchNmse);
}

TEST(HostBackend, ZeroTokensGiveAnEmptyOutput) {
  const MoeShape s{4, 96, 128, 64, 64, 2, 0};
  const CanonicalMoe m = make_canonical(s, 53);
  const Tensor y = make_backend("host")->run(
      prepare_device(m, consistent_prep(GateMode::Separated, false), correct_flags(s, GateMode::Separated, false)));
  EXPECT_EQ(y.shape(), (Shape{0, 96}));
  EXPECT_EQ(y.dtype(), DType::BF16);
}

// swiglu_limit and alpha are read from the problem, not hard-wired.
TEST(HostBackend, UsesTheProblemsSwigluLimitAndAlpha) {
  const MoeShape s{4, 96, 128, 64, 64, 2, 5};
  const CanonicalMoe m = make_canonical(s, 59);
  auto p = prepare_device(m, consistent_prep(GateMode::Separated, false), correct_flags(s, GateMode::Separated, false));
  p.swiglu_limit = 1.5f;
  p.alpha = 1.0f;
  const auto y = run_host(p);
  EXPECT_LT(nmse(y, expected_output(m, s.units, 1.5, 1.0)), kMatchNmse);
  EXPECT_GT(nmse(y, expected_output(m, s.units)), kMatchNmse * 10);
}

}  // namespace
}  // namespace mxg::testing
