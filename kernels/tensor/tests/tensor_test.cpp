// Tests of the dtype conversions (bf16 / f16 rounding, exhaustive f16) and of Tensor storage
// (copy-on-write views, reshape, conversions).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/tensor/dtype.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg {
namespace {

float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }

// The binary16 value of a bit pattern, from the IEEE field definitions, in double.
double f16_by_fields(std::uint16_t h) {
  const int sign = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
  double mag;
  if (e == 0) {
    mag = std::ldexp(static_cast<double>(m), -24);
  } else if (e == 31) {
    mag = m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else {
    mag = std::ldexp(static_cast<double>(1024 + m), e - 25);
  }
  return sign ? -mag : mag;
}

TEST(BF16, TiesRoundToEven) {
  // 1.0 is 0x3F80; the next bf16 up is 0x3F81 = 1 + 2^-7; 0x3F808000 sits exactly halfway.
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808000u)), 0x3F80);  // tie, 0x3F80 is even
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F818000u)), 0x3F82);  // tie, 0x3F82 is even
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808001u)), 0x3F81);  // just above the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F817FFFu)), 0x3F81);  // just below the next tie
  EXPECT_EQ(f32_to_bf16(-1.0f), 0xBF80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
}

TEST(BF16, OverflowRoundsToInfinityAndInfinityStays) {
  // Largest finite bf16 is 0x7F7F; halfway to 2^128 rounds up (0x7F7F is odd) to infinity.
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F8000u)), 0x7F80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F7FFFu)), 0x7F7F);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
}

TEST(BF16, NaNStaysNaNEvenWhenThePayloadIsInTheDroppedBits) {
  // Truncating 0x7F800001 would give 0x7F80, which is infinity.
  for (std::uint32_t bits : {0x7F800001u, 0xFF800001u, 0x7FC00000u, 0x7FFFFFFFu}) {
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(from_bits(bits))))) << std::hex << bits;
  }
}

TEST(BF16, RandomFloatsGoToTheNearestNeighbour) {
  std::mt19937 rng(99u);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  for (int i = 0; i < 100000; ++i) {
    const std::uint32_t u = any_bits(rng);
    const float f = from_bits(u);
    if (!std::isfinite(f)) continue;
    const std::uint16_t got = f32_to_bf16(f);
    // Candidates: the truncation and the next bf16 away from zero (2^128 stands in for infinity).
    const auto down = static_cast<std::uint16_t>(u >> 16);
    const auto up = static_cast<std::uint16_t>(down + 1);
    const double vd = bf16_to_f32(down);
    const double vu = (up & 0x7FFF) == 0x7F80 ? std::copysign(std::ldexp(1.0, 128), f) : bf16_to_f32(up);
    const double dd = std::fabs(f - vd), du = std::fabs(f - vu);
    const std::uint16_t expected = dd < du ? down : du < dd ? up : ((down & 1) ? up : down);
    ASSERT_EQ(got, expected) << std::hex << "bits " << u;
  }
}

TEST(F16, AllBitPatternsDecodeByTheFieldFormulaAndRoundTrip) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = f16_to_f32(h);
    const double expected = f16_by_fields(h);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      const std::uint16_t back = f32_to_f16(f);
      ASSERT_EQ(back & 0x7C00, 0x7C00) << std::hex << b;  // still NaN: all-ones exponent,
      ASSERT_NE(back & 0x03FF, 0) << std::hex << b;       // non-zero mantissa
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), expected) << std::hex << b;
    ASSERT_EQ(std::signbit(f), (b >> 15) != 0) << std::hex << b;  // -0 keeps its sign
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << b;
  }
}

TEST(F16, HandPickedRoundingCases) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);  // largest finite
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // halfway to 2^16: ties to even = infinity
  EXPECT_EQ(f32_to_f16(-1e9f), 0xFC00);
  // 1 + 2^-11 is halfway between 1 (0x3C00) and 1 + 2^-10 (0x3C01): even is 0x3C00.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // Subnormals: quantum 2^-24. Half a quantum ties to 0; 1.5 quanta ties to 2.
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -26)), 0x8000);
  // Halfway between the largest subnormal (0x03FF) and the smallest normal (0x0400): even wins.
  EXPECT_EQ(f32_to_f16(std::ldexp(2047.0f, -25)), 0x0400);
  // A carry out of the mantissa moves to the next binade: just under 2, rounds to 2.0 = 0x4000.
  EXPECT_EQ(f32_to_f16(std::nextafter(2.0f, 0.0f)), 0x4000);
}

TEST(F16, RandomFloatsGoToTheNearestNeighbour) {
  std::mt19937 rng(5u);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-26, 16);
  for (int i = 0; i < 100000; ++i) {
    const float f = std::ldexp(mantissa(rng), exponent(rng));
    if (std::fabs(f) >= 65504.0f) continue;
    const std::uint16_t got = f32_to_f16(f);
    const double err = std::fabs(f16_by_fields(got) - f);
    // Both bit neighbours (same sign) must be no closer; on a tie the result is even.
    for (int step : {-1, 1}) {
      const int nb = (got & 0x7FFF) + step;
      if (nb < 0 || nb > 0x7BFF) continue;
      const auto neighbour = static_cast<std::uint16_t>((got & 0x8000) | nb);
      const double nerr = std::fabs(f16_by_fields(neighbour) - f);
      ASSERT_LE(err, nerr) << f;
      if (err == nerr) {
        ASSERT_EQ(got & 1, 0) << f;
      }
    }
  }
}

TEST(Dtype, NamesParseBackAndSizes) {
  const std::pair<DType, std::size_t> all[] = {{DType::U8, 1},  {DType::I8, 1},   {DType::I16, 2},
                                               {DType::I32, 4}, {DType::I64, 8},  {DType::F16, 2},
                                               {DType::BF16, 2}, {DType::F32, 4}, {DType::F64, 8}};
  for (auto [t, size] : all) {
    EXPECT_EQ(parse_dtype(dtype_name(t)), t);
    EXPECT_EQ(dtype_size(t), size) << dtype_name(t);
  }
  EXPECT_EQ(parse_dtype("F8_E4M3"), std::nullopt);
  EXPECT_EQ(parse_dtype("f32"), std::nullopt);  // names are case-sensitive, as in the format
}

TEST(Tensor, OwnedTensorsStartZeroedAndCopiesDetachOnWrite) {
  Tensor a(DType::F32, {2, 3});
  EXPECT_EQ(a.nbytes(), 24u);
  for (float v : a.as<float>()) EXPECT_EQ(v, 0.0f);
  Tensor b = a;  // shares the buffer
  b.as_mut<float>()[4] = 7.0f;
  EXPECT_EQ(a.as<float>()[4], 0.0f);
  EXPECT_EQ(b.as<float>()[4], 7.0f);
  a.as_mut<float>()[0] = 1.0f;  // a is the only owner now: written in place
  EXPECT_EQ(b.as<float>()[0], 0.0f);
}

TEST(Tensor, ViewsAreCopiedOnFirstWriteAndKeepTheirOwnerAlive) {
  auto backing = std::make_shared<std::vector<std::uint16_t>>(std::vector<std::uint16_t>{1, 2, 3, 4});
  std::weak_ptr<std::vector<std::uint16_t>> watch = backing;
  const auto* data = reinterpret_cast<const std::byte*>(backing->data());
  Tensor v = Tensor::view(DType::I16, {2, 2}, data, backing);
  backing.reset();
  EXPECT_FALSE(watch.expired()) << "the view must keep its owner alive";
  EXPECT_EQ(v.as<std::int16_t>()[3], 4);
  EXPECT_EQ(v.bytes().data(), data);  // reading does not copy

  Tensor w = v;
  w.as_mut<std::int16_t>()[0] = -5;
  EXPECT_NE(w.bytes().data(), data);  // writing copied
  EXPECT_EQ(v.as<std::int16_t>()[0], 1);
  EXPECT_EQ(watch.lock()->at(0), 1);  // the viewed memory is untouched
  EXPECT_EQ(w.as<std::int16_t>()[1], 2);

  v = Tensor();
  w = Tensor();
  EXPECT_TRUE(watch.expired());
}

TEST(Tensor, ReshapeKeepsBytesAndChecksCount) {
  auto t = Tensor::from_f32(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor r = t.reshaped({3, 2});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.as<float>()[5], 6.0f);
  EXPECT_THROW(t.reshaped({4, 2}), std::invalid_argument);
  r.as_mut<float>()[0] = 9.0f;  // the reshape shares storage until written
  EXPECT_EQ(t.as<float>()[0], 1.0f);
}

TEST(Tensor, ConversionsThroughF32) {
  const std::vector<float> values = {1.5f, -2.0f, 0.0f, 100.0f};
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F64, DType::I32, DType::I64}) {
    auto tensor = Tensor::from_f32(values, {4}, t);
    EXPECT_EQ(tensor.nbytes(), 4 * dtype_size(t));
    const auto back = tensor.to_f32();
    const bool integral = t == DType::I32 || t == DType::I64;
    EXPECT_EQ(back[0], integral ? 1.0f : 1.5f) << dtype_name(t);  // integers truncate
    EXPECT_EQ(back[1], -2.0f) << dtype_name(t);
    EXPECT_EQ(back[3], 100.0f) << dtype_name(t);
    EXPECT_EQ(tensor.value_at(1), -2.0) << dtype_name(t);
  }
  EXPECT_THROW(Tensor::from_f32(values, {3}), std::invalid_argument);
  EXPECT_THROW(Tensor(DType::F32, {2, -1}), std::invalid_argument);
}

TEST(Tensor, ShapeHelpers) {
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({128, 5760, 0}), 0);
  EXPECT_EQ(shape_string({128, 5760, 90, 16}), "[128, 5760, 90, 16]");
  Tensor empty(DType::BF16, {0, 4});
  EXPECT_TRUE(empty.empty());
  EXPECT_TRUE(empty.same_bytes(Tensor(DType::BF16, {0, 4})));
  EXPECT_FALSE(empty.same_bytes(Tensor(DType::BF16, {4, 0})));
}

}  // namespace
}  // namespace mxg
