// Tests of the platform-independent random streams and their exact transforms, checked against
// std::mt19937_64 directly, std::exp and the bf16 definition.
#include "harness/matrix/seeded_random.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <vector>

namespace mxg::matrix {
namespace {

TEST(StreamKey, EveryComponentChangesTheStream) {
  const std::uint64_t base = stream_key(1, "hidden", 0);
  EXPECT_NE(base, stream_key(2, "hidden", 0));
  EXPECT_NE(base, stream_key(1, "hiddem", 0));
  EXPECT_NE(base, stream_key(1, "hidden", 1));
  EXPECT_EQ(base, stream_key(1, "hidden", 0));
}

TEST(SeededStream, IsMt19937_64UnderTheStreamKey) {
  SeededStream s(5, "tag", 3);
  std::mt19937_64 reference(stream_key(5, "tag", 3));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(s.bits(), reference());
}

TEST(SeededStream, NormalIsTheCentredSumOfTwelve32BitUniforms) {
  SeededStream s(9, "normal");
  std::mt19937_64 reference(stream_key(9, "normal"));
  for (int n = 0; n < 50; ++n) {
    double sum = 0;
    for (int i = 0; i < 6; ++i) {
      const std::uint64_t x = reference();
      sum += std::ldexp(static_cast<double>(x & 0xFFFFFFFFu), -32) + std::ldexp(static_cast<double>(x >> 32), -32);
    }
    ASSERT_EQ(s.normal(), sum - 6.0);
  }
}

TEST(SeededStream, NormalHasUnitMomentsAndBoundedSupport) {
  SeededStream s(1, "moments");
  constexpr int kN = 200000;
  double sum = 0, sum_sq = 0, largest = 0;
  for (int i = 0; i < kN; ++i) {
    const double z = s.normal();
    sum += z;
    sum_sq += z * z;
    largest = std::max(largest, std::fabs(z));
  }
  const double mean = sum / kN, var = sum_sq / kN - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);  // 4.5 standard errors
  EXPECT_NEAR(var, 1.0, 0.015);
  EXPECT_LE(largest, 6.0);
  EXPECT_GT(largest, 3.5);  // the tails are there
}

TEST(SeededStream, BelowIsInRangeAndEven) {
  SeededStream s(2, "below");
  EXPECT_EQ(s.below(1), 0u);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) {
    const auto v = s.below(3);
    ASSERT_LT(v, 3u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(SeededStream, UniformIsInTheHalfOpenUnitInterval) {
  SeededStream s(3, "uniform");
  for (int i = 0; i < 10000; ++i) {
    const double u = s.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(SeededStream, FillWritesEngineWordsLittleEndianForAnyLength) {
  for (std::size_t length : {0u, 1u, 7u, 8u, 9u, 23u}) {
    SeededStream s(4, "fill");
    std::mt19937_64 reference(stream_key(4, "fill"));
    std::vector<std::uint8_t> out(length, 0xAB);
    s.fill(out);
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < length; ++i) {
      if (i % 8 == 0) word = reference();
      ASSERT_EQ(out[i], static_cast<std::uint8_t>(word >> (8 * (i % 8)))) << "length " << length << " byte " << i;
    }
  }
}

TEST(PortableExp, MatchesLibmToRounding) {
  EXPECT_EQ(portable_exp(0.0), 1.0);
  EXPECT_EQ(portable_exp(-800.0), 0.0);
  for (double x = -60.0; x <= 5.0; x += 0.0137) {
    ASSERT_NEAR(portable_exp(x) / std::exp(x), 1.0, 1e-14) << x;
  }
}

TEST(RoundToBf16, GivesTheNearestBf16Value) {
  SeededStream s(5, "bf16");
  for (int i = 0; i < 10000; ++i) {
    const double v = std::ldexp(s.normal(), static_cast<int>(s.below(40)) - 20);
    const float r = round_to_bf16(v);
    std::uint32_t bits;
    std::memcpy(&bits, &r, 4);
    ASSERT_EQ(bits & 0xFFFFu, 0u) << v;
    // bf16 keeps 8 significant bits: the rounding error is at most half a unit in the last place.
    int exponent;
    std::frexp(v, &exponent);
    ASSERT_LE(std::fabs(r - v), std::ldexp(1.0, exponent - 9)) << v;
  }
}

}  // namespace
}  // namespace mxg::matrix
