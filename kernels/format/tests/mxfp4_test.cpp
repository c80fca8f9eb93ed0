// Tests of the MXFP4 codecs and quantiser against the OCP definitions (LAYOUTS.md §1), with
// expectations computed independently of the code under test.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/format/mxfp4.hpp"

namespace mxg::mxfp4 {
namespace {

// E2M1 by its bit fields: sign, 2-bit exponent e (bias 1), 1-bit mantissa m.
// e = 0 is subnormal: m * 0.5; otherwise (1 + m/2) * 2^(e-1).
float e2m1_from_fields(int code) {
  const int sign = (code >> 3) & 1, e = (code >> 1) & 3, m = code & 1;
  const double mag = e == 0 ? m * 0.5 : (1.0 + m / 2.0) * std::pow(2.0, e - 1);
  return static_cast<float>(sign ? -mag : mag);
}

// 2^(s-127) by repeated halving / doubling in double (exact: all are powers of two).
double pow2_by_steps(int exponent) {
  double v = 1.0;
  for (int i = 0; i < exponent; ++i) v *= 2.0;
  for (int i = 0; i > exponent; --i) v /= 2.0;
  return v;
}

TEST(E2M1, EveryCodeDecodesToItsBitFieldValueAndEncodesBack) {
  for (int code = 0; code < 16; ++code) {
    const float v = e2m1_decode(static_cast<std::uint8_t>(code));
    EXPECT_EQ(v, e2m1_from_fields(code)) << "code " << code;
    EXPECT_EQ(std::signbit(v), code >= 8) << "code " << code;  // code 8 is -0, not +0
    EXPECT_EQ(e2m1_encode(v), code) << "code " << code;
  }
}

TEST(E2M1, DecodeIgnoresTheHighNibble) {
  EXPECT_EQ(e2m1_decode(0xF3), 1.5f);
  EXPECT_EQ(e2m1_decode(0x17), 6.0f);
}

TEST(E2M1, MidpointsRoundToTheEvenMantissa) {
  struct Case {
    float in, out;
  };
  // Each midpoint sits between two grid values whose codes differ in the mantissa bit; the
  // result must be the one with mantissa 0 (0, 1.0, 2, 4 have even codes 0, 2, 4, 6).
  const Case cases[] = {{0.25f, 0.0f}, {0.75f, 1.0f}, {1.25f, 1.0f}, {1.75f, 2.0f},
                        {2.5f, 2.0f},  {3.5f, 4.0f},  {5.0f, 4.0f}};
  for (const auto& c : cases) {
    EXPECT_EQ(e2m1_decode(e2m1_encode(c.in)), c.out) << c.in;
    EXPECT_EQ(e2m1_decode(e2m1_encode(-c.in)), -c.out) << -c.in;
    EXPECT_EQ(e2m1_encode(c.in) & 1, 0) << c.in;
  }
}

TEST(E2M1, ValuesJustOffAMidpointGoToTheNearerNeighbour) {
  const float grid[] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (int i = 0; i + 1 < 8; ++i) {
    const float mid = (grid[i] + grid[i + 1]) / 2;
    EXPECT_EQ(e2m1_decode(e2m1_encode(std::nextafter(mid, 0.0f))), grid[i]) << mid;
    EXPECT_EQ(e2m1_decode(e2m1_encode(std::nextafter(mid, 10.0f))), grid[i + 1]) << mid;
  }
}

TEST(E2M1, SaturatesAtSix) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {6.0f, 7.0f, 100.0f, 3e38f, inf}) {
    EXPECT_EQ(e2m1_decode(e2m1_encode(v)), 6.0f) << v;
    EXPECT_EQ(e2m1_decode(e2m1_encode(-v)), -6.0f) << -v;
  }
}

TEST(E2M1, SignedZerosAndNaN) {
  EXPECT_EQ(e2m1_encode(0.0f), 0);
  EXPECT_EQ(e2m1_encode(-0.0f), 8);
  EXPECT_EQ(e2m1_encode(-0.1f), 8);  // rounds to zero but keeps its sign
  EXPECT_EQ(e2m1_encode(std::numeric_limits<float>::quiet_NaN()), 0);
  EXPECT_EQ(e2m1_encode(-std::numeric_limits<float>::quiet_NaN()), 0);
}

TEST(E8M0, EveryByteIsAPowerOfTwoAnd255IsNaN) {
  for (int s = 0; s < 255; ++s) {
    const double expected = pow2_by_steps(s - 127);
    EXPECT_EQ(static_cast<double>(e8m0_decode(static_cast<std::uint8_t>(s))), expected) << "s = " << s;
  }
  EXPECT_TRUE(std::isnan(e8m0_decode(255)));
  EXPECT_EQ(e8m0_decode(127), 1.0f);
  EXPECT_GT(e8m0_decode(0), 0.0f);  // 2^-127 is a float subnormal, not flushed to zero
}

TEST(Packing, EvenIndexIsTheLowNibble) {
  EXPECT_EQ(pack_pair(0x3, 0xA), 0xA3);
  EXPECT_EQ(low_code(0xA3), 0x3);
  EXPECT_EQ(high_code(0xA3), 0xA);
  // dequant_element walks a packed row: byte 0 = elements 0 (low), 1 (high).
  const std::uint8_t row[2] = {pack_pair(2, 7), pack_pair(9, 0)};  // 1.0, 6.0, -0.5, 0
  const std::uint8_t scale[1] = {128};                             // 2
  EXPECT_EQ(dequant_element(row, scale, 0), 2.0f);
  EXPECT_EQ(dequant_element(row, scale, 1), 12.0f);
  EXPECT_EQ(dequant_element(row, scale, 2), -1.0f);
  EXPECT_EQ(dequant_element(row, scale, 3), 0.0f);
}

std::array<float, kBlock> block_of(float fill) {
  std::array<float, kBlock> b{};
  b.fill(fill);
  return b;
}

TEST(BlockScale, ZeroBlockGetsByteZeroUnderBothRules) {
  const auto zeros = block_of(0.0f);
  EXPECT_EQ(block_scale(zeros, ExponentRule::Floor), 0);
  EXPECT_EQ(block_scale(zeros, ExponentRule::Ceil), 0);
  auto neg_zeros = block_of(-0.0f);
  EXPECT_EQ(block_scale(neg_zeros, ExponentRule::Floor), 0);
}

TEST(BlockScale, FloorAndCeilOnHandPickedMaxima) {
  struct Case {
    float max;
    int floor_x, ceil_x;
  };
  // floor: floor(log2 m) - 2; ceil: smallest X with m <= 6 * 2^X.
  const Case cases[] = {
      {1.0f, -2, -2},   // 6 * 2^-3 = 0.75 < 1 <= 1.5
      {6.0f, 0, 0},     // 4 <= 6 < 8; 6 <= 6
      {6.5f, 0, 1},     // floor saturates 6.5 -> 6; ceil moves up
      {4.0f, 0, 0},     // 4 <= 6
      {3.0f, -1, -1},   // 3 <= 6 * 2^-1
      {3.01f, -1, 0},   // 3.01 > 3
      {7.99f, 0, 1},
      {8.0f, 1, 1},
      {0.75f, -3, -3},  // 6 * 2^-3 = 0.75 exactly
  };
  for (const auto& c : cases) {
    auto b = block_of(0.0f);
    b[5] = -c.max;  // the sign must not matter
    EXPECT_EQ(block_scale(b, ExponentRule::Floor), c.floor_x + 127) << c.max;
    EXPECT_EQ(block_scale(b, ExponentRule::Ceil), c.ceil_x + 127) << c.max;
  }
}

TEST(BlockScale, ExponentClampsToTheE8M0Range) {
  // 2^-140 would need X = -142 (floor): clamped to -127, byte 0.
  auto tiny = block_of(std::ldexp(1.0f, -140));
  EXPECT_EQ(block_scale(tiny, ExponentRule::Floor), 0);
  EXPECT_EQ(block_scale(tiny, ExponentRule::Ceil), 0);
  // The largest float: floor(log2) = 127 -> X = 125; ceil: 3.4e38 / 6 -> X = 126.
  auto huge = block_of(std::numeric_limits<float>::max());
  EXPECT_EQ(block_scale(huge, ExponentRule::Floor), 125 + 127);
  EXPECT_EQ(block_scale(huge, ExponentRule::Ceil), 126 + 127);
  // Smallest subnormal float, 2^-149.
  auto denorm = block_of(std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(block_scale(denorm, ExponentRule::Floor), 0);
}

TEST(BlockScale, NonFiniteBlocksGetTheNaNScale) {
  auto b = block_of(1.0f);
  b[31] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(block_scale(b, ExponentRule::Floor), 255);
  b[31] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(block_scale(b, ExponentRule::Ceil), 255);

  std::vector<std::uint8_t> packed(kBlockBytes), scales(1);
  quantize_rows(b, 1, kBlock, ExponentRule::Floor, packed, scales);
  std::vector<float> out(kBlock);
  dequantize_rows(packed, scales, 1, kBlock, out);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

// Half the distance between neighbouring E2M1 values around magnitude a (a <= 6): the grid
// spacing is 0.5 on [0, 2], 1 on [2, 4] and 2 on [4, 6].
double half_spacing(double a) { return a <= 2.0 ? 0.25 : a <= 4.0 ? 0.5 : 1.0; }

struct Quantised {
  std::vector<std::uint8_t> packed, scales;
  std::vector<float> restored;
};

Quantised round_trip(const std::vector<float>& values, std::int64_t rows, std::int64_t k, ExponentRule rule) {
  Quantised q;
  q.packed.resize(values.size() / 2);
  q.scales.resize(values.size() / kBlock);
  q.restored.resize(values.size());
  quantize_rows(values, rows, k, rule, q.packed, q.scales);
  dequantize_rows(q.packed, q.scales, rows, k, q.restored);
  return q;
}

// Blocks whose magnitudes span several binades, so every grid spacing and saturation occur.
std::vector<float> random_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> binade(-20, 20);
  std::vector<float> v(n);
  for (std::size_t b = 0; b < n / kBlock; ++b) {
    const int e = binade(rng);
    for (int i = 0; i < kBlock; ++i) v[b * kBlock + i] = std::ldexp(mantissa(rng), e);
  }
  return v;
}

// Error bounds for the Floor rule. With m = max|v| and X = floor(log2 m) - 2, the scaled values
// u = v / 2^X satisfy |u| < 8 (since m < 2^(X+3)) and the block max has |u_max| in [4, 8).
// - An element with |u| <= 6 rounds to its nearest grid value: |err| <= half_spacing(|u|) * 2^X.
// - An element with |u| > 6 saturates to 6: err = |u| - 6 < 2, so |err| < 2 * 2^X.
// - For the block max: if |u_max| <= 6 the error is at most 1 (the half spacing of [4, 6]) and
//   |u_max| >= 4, hence relative error <= 1/4 (in fact <= 1/5, at u = 5); if |u_max| in (6, 8),
//   the relative error (|u| - 6) / |u| < (8 - 6) / 8 = 1/4. So |restored max - max| < max / 4
//   always, and the restored max is never larger in magnitude than 6 * 2^X.
TEST(Quantise, FloorRuleErrorBounds) {
  const std::int64_t rows = 7, k = 96;
  const auto values = random_values(static_cast<std::size_t>(rows * k), 12345u);
  const auto q = round_trip(values, rows, k, ExponentRule::Floor);
  int saturated = 0;
  for (std::size_t b = 0; b < q.scales.size(); ++b) {
    float m = 0.0f;
    std::size_t argmax = b * kBlock;
    for (std::size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) {
      if (std::fabs(values[i]) > m) m = std::fabs(values[i]), argmax = i;
    }
    const int x = q.scales[b] - 127;
    // The scale's defining property, checked without logarithms: 2^(X+2) <= m < 2^(X+3).
    ASSERT_LE(std::ldexp(1.0, x + 2), m) << "block " << b;
    ASSERT_GT(std::ldexp(1.0, x + 3), m) << "block " << b;
    for (std::size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) {
      const double u = std::fabs(std::ldexp(static_cast<double>(values[i]), -x));
      const double err = std::fabs(static_cast<double>(q.restored[i]) - values[i]);
      if (u <= 6.0) {
        EXPECT_LE(err, half_spacing(u) * std::ldexp(1.0, x)) << "element " << i;
      } else {
        ++saturated;
        EXPECT_EQ(std::fabs(q.restored[i]), 6.0f * std::ldexp(1.0f, x)) << "element " << i;
      }
      EXPECT_TRUE(q.restored[i] == 0.0f || std::signbit(q.restored[i]) == std::signbit(values[i])) << i;
    }
    EXPECT_LT(std::fabs(q.restored[argmax] - values[argmax]), m / 4) << "block " << b;
  }
  EXPECT_GT(saturated, 0) << "the random blocks should exercise saturation";
}

// Ceil: X is the smallest exponent with m <= 6 * 2^X, so nothing saturates and every element is
// within half a grid spacing.
TEST(Quantise, CeilRuleNeverSaturates) {
  const std::int64_t rows = 5, k = 128;
  const auto values = random_values(static_cast<std::size_t>(rows * k), 777u);
  const auto q = round_trip(values, rows, k, ExponentRule::Ceil);
  for (std::size_t b = 0; b < q.scales.size(); ++b) {
    const int x = q.scales[b] - 127;
    float m = 0.0f;
    for (std::size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) m = std::max(m, std::fabs(values[i]));
    ASSERT_LE(m, 6.0 * std::ldexp(1.0, x)) << "block " << b;
    ASSERT_GT(m, 6.0 * std::ldexp(1.0, x - 1)) << "block " << b;  // and no larger than needed
    for (std::size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) {
      const double u = std::fabs(std::ldexp(static_cast<double>(values[i]), -x));
      ASSERT_LE(u, 6.0);
      EXPECT_LE(std::fabs(static_cast<double>(q.restored[i]) - values[i]), half_spacing(u) * std::ldexp(1.0, x));
    }
  }
}

// Values already on the grid (E2M1 value * 2^e) come back bit-exact under both rules, whatever
// the max is, because the scale chosen divides the grid without leaving it.
TEST(Quantise, RepresentableBlocksRoundTripExactly) {
  std::mt19937 rng(2024u);
  std::uniform_int_distribution<int> code(0, 15), exponent(-100, 100);
  const std::int64_t rows = 4, k = 64;
  for (ExponentRule rule : {ExponentRule::Floor, ExponentRule::Ceil}) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<float> values(static_cast<std::size_t>(rows * k));
      for (std::size_t b = 0; b < values.size() / kBlock; ++b) {
        const int e = exponent(rng);
        for (int i = 0; i < kBlock; ++i) {
          values[b * kBlock + i] = std::ldexp(e2m1_from_fields(code(rng)), e);
        }
      }
      const auto q = round_trip(values, rows, k, rule);
      for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(q.restored[i], values[i]) << "element " << i;
    }
  }
}

TEST(Quantise, ZeroBlockRoundTripsToZeroWithByteZero) {
  std::vector<float> values(2 * kBlock, 0.0f);
  values[kBlock + 3] = 1.0f;  // second block non-zero
  const auto q = round_trip(values, 1, 2 * kBlock, ExponentRule::Floor);
  EXPECT_EQ(q.scales[0], 0);
  EXPECT_EQ(q.scales[1], 125);  // floor(log2 1) - 2 = -2
  for (int i = 0; i < kBlock; ++i) EXPECT_EQ(q.restored[i], 0.0f);
  EXPECT_EQ(q.restored[kBlock + 3], 1.0f);
}

TEST(Quantise, PackedBytesFollowTheElementOrder) {
  std::vector<float> values(kBlock, 0.0f);
  values[0] = 4.0f;   // code 6, low nibble of byte 0
  values[1] = -1.0f;  // code 10, high nibble of byte 0
  values[31] = 0.5f;  // code 1, high nibble of byte 15
  const auto q = round_trip(values, 1, kBlock, ExponentRule::Floor);
  EXPECT_EQ(q.scales[0], 127);  // floor(log2 4) - 2 = 0
  EXPECT_EQ(q.packed[0], 0xA6);
  EXPECT_EQ(q.packed[15], 0x10);
}

TEST(Quantise, RejectsMismatchedSizes) {
  std::vector<float> values(64);
  std::vector<std::uint8_t> packed(32), scales(2);
  EXPECT_THROW(quantize_rows(values, 1, 48, ExponentRule::Floor, packed, scales), std::invalid_argument);
  EXPECT_THROW(quantize_rows(values, 2, 64, ExponentRule::Floor, packed, scales), std::invalid_argument);
  std::vector<std::uint8_t> short_packed(31);
  EXPECT_THROW(quantize_rows(values, 1, 64, ExponentRule::Floor, short_packed, scales), std::invalid_argument);
  EXPECT_THROW(quantize_rows(values, -1, 64, ExponentRule::Floor, packed, scales), std::invalid_argument);
  std::vector<float> out(63);
  EXPECT_THROW(dequantize_rows(packed, scales, 1, 64, out), std::invalid_argument);
  try {
    dequantize_rows(packed, scales, 1, 64, out);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("63"), std::string::npos) << e.what();  // names the size given
  }
  std::vector<float> none;
  std::vector<std::uint8_t> no_bytes;
  EXPECT_NO_THROW(quantize_rows(none, 0, 64, ExponentRule::Floor, no_bytes, no_bytes));
}

}  // namespace
}  // namespace mxg::mxfp4
