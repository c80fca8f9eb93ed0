// Tests of the reference's MXFP4 dequantisation: every byte and representative scale bytes against
// the spec (decoded in the test from bit fields), and the SIMD path bit-identical to the scalar one.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "reference/dequantize.hpp"

namespace mxg::ref {
namespace {

// E2M1 from its fields: sign, 2-bit exponent (bias 1), 1-bit mantissa; exponent 0 is subnormal.
double e2m1_by_fields(int code) {
  const int e = (code >> 1) & 3, m = code & 1;
  const double magnitude = e == 0 ? 0.5 * m : (1.0 + 0.5 * m) * std::ldexp(1.0, e - 1);
  return (code & 8) ? -magnitude : magnitude;
}

// Two rows of K = 512: 256 bytes per row cover every byte value once; each row's 16 blocks get
// different scale bytes, the extremes included.
struct Packed {
  std::vector<std::uint8_t> bytes, scales;
};
Packed every_byte() {
  Packed p;
  for (int row = 0; row < 2; ++row) {
    for (int b = 0; b < 256; ++b) p.bytes.push_back(static_cast<std::uint8_t>(row == 0 ? b : 255 - b));
  }
  p.scales = {0, 1, 2, 100, 126, 127, 128, 150, 200, 253, 254, 255, 127, 127, 120, 130,
              127, 0, 254, 255, 64, 190, 127, 127, 1, 2, 3, 4, 5, 6, 7, 8};
  return p;
}

TEST(Dequantize, DoubleMatchesTheSpecForEveryByte) {
  const Packed p = every_byte();
  std::vector<double> out(2 * 512);
  dequantize_rows_to<double>(p.bytes.data(), p.scales.data(), 2, 512, out.data());
  for (int i = 0; i < 2 * 512; ++i) {
    const int byte = p.bytes[i / 2];
    const int code = (i % 2 == 0) ? byte & 15 : byte >> 4;
    const int s = p.scales[i / 32];
    if (s == 255) {
      EXPECT_TRUE(std::isnan(out[i])) << i;
      continue;
    }
    const double expected = e2m1_by_fields(code) * std::ldexp(1.0, s - 127);
    EXPECT_EQ(out[i], expected) << "element " << i << " code " << code << " scale " << s;
    EXPECT_EQ(std::signbit(out[i]), code >= 8) << i;  // -0 stays -0
  }
}

TEST(Dequantize, FloatSimdPathIsBitIdenticalToPortable) {
  const Packed p = every_byte();
  std::vector<float> fast(2 * 512), portable(2 * 512);
  dequantize_rows_to<float>(p.bytes.data(), p.scales.data(), 2, 512, fast.data());
  dequantize_rows_portable<float>(p.bytes.data(), p.scales.data(), 2, 512, portable.data());
  for (int i = 0; i < 2 * 512; ++i) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(fast[i]), std::bit_cast<std::uint32_t>(portable[i]))
        << "element " << i << " (" << dequantize_simd_level() << ")";
  }
  // And float equals the exact double value wherever that is representable (6 * 2^127 overflows).
  std::vector<double> exact(2 * 512);
  dequantize_rows_to<double>(p.bytes.data(), p.scales.data(), 2, 512, exact.data());
  for (int i = 0; i < 2 * 512; ++i) {
    if (std::isnan(exact[i])) {
      EXPECT_TRUE(std::isnan(fast[i])) << i;
    } else if (std::fabs(exact[i]) <= std::numeric_limits<float>::max()) {
      EXPECT_EQ(static_cast<double>(fast[i]), exact[i]) << i;
    } else {
      EXPECT_TRUE(std::isinf(fast[i])) << i;
    }
  }
}

}  // namespace
}  // namespace mxg::ref
