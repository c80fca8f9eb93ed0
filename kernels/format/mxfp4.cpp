// MXFP4 codecs (E2M1 rounding, E8M0 decoding) and the row-wise block quantiser of LAYOUTS.md §1.
#include "kernels/format/mxfp4.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace mxg::mxfp4 {

namespace {

constexpr int kMinExponent = -127;  // E8M0 byte 0
constexpr int kMaxExponent = 127;   // E8M0 byte 254 (255 is NaN)
constexpr std::uint8_t kNanScale = 255;
constexpr std::uint8_t kSignBit = 0x8;

// Magnitude code (0..7) of a non-negative, non-NaN value. The comparisons sit on the midpoints
// between neighbouring grid values; `<=` sends a tie down and `<` sends it up, chosen so that a
// tie always lands on the even code (mantissa bit 0).
std::uint8_t magnitude_code(float a) {
  if (a <= 0.25f) return 0;  // tie 0 | 0.5  -> code 0
  if (a < 0.75f) return 1;   // tie 0.5 | 1 -> code 2
  if (a <= 1.25f) return 2;  // tie 1 | 1.5 -> code 2
  if (a < 1.75f) return 3;   // tie 1.5 | 2 -> code 4
  if (a <= 2.5f) return 4;   // tie 2 | 3   -> code 4
  if (a < 3.5f) return 5;    // tie 3 | 4   -> code 6
  if (a <= 5.0f) return 6;   // tie 4 | 6   -> code 6
  return 7;                  // everything above 5, infinity included, saturates at 6
}

// floor(log2(a)) for finite a > 0, exact (frexp returns a = f * 2^e with f in [0.5, 1)).
int floor_log2(float a) {
  int e = 0;
  std::frexp(a, &e);
  return e - 1;
}

// Smallest X with a <= 6 * 2^X, i.e. ceil(log2(a / 6)) without rounding a / 6.
// With a = f * 2^e, f in [0.5, 1): X = e - 3 works iff f <= 0.75; otherwise X = e - 2 (f < 1 <= 1.5).
int ceil_log2_over_6(float a) {
  int e = 0;
  const float f = std::frexp(a, &e);
  return f <= 0.75f ? e - 3 : e - 2;
}

void check_sizes(std::int64_t rows, std::int64_t k, std::size_t n_values, std::size_t n_packed,
                 std::size_t n_scales, const char* what) {
  if (rows < 0 || k < 0 || k % kBlock != 0) {
    throw std::invalid_argument(
        fmt::format("{}: rows = {}, k = {}: need rows >= 0 and k >= 0 a multiple of {}", what, rows, k, kBlock));
  }
  if (k != 0 && rows > std::numeric_limits<std::int64_t>::max() / k) {
    throw std::invalid_argument(fmt::format("{}: rows * k overflows (rows = {}, k = {})", what, rows, k));
  }
  const auto n = static_cast<std::size_t>(rows * k);
  if (n_values != n || n_packed != n / 2 || n_scales != n / kBlock) {
    throw std::invalid_argument(fmt::format(
        "{}: rows = {}, k = {} needs {} values, {} packed bytes, {} scales; got {}, {}, {}", what, rows, k, n,
        n / 2, n / kBlock, n_values, n_packed, n_scales));
  }
}

}  // namespace

std::uint8_t e2m1_encode(float value) {
  if (std::isnan(value)) return 0;
  const std::uint8_t sign = std::signbit(value) ? kSignBit : 0;  // -0 and tiny negatives keep their sign
  return static_cast<std::uint8_t>(sign | magnitude_code(std::fabs(value)));
}

float e8m0_decode(std::uint8_t s) {
  if (s == kNanScale) return std::numeric_limits<float>::quiet_NaN();
  // ldexp is exact here; s = 0 and 1 give 2^-127 and 2^-126, a subnormal and the smallest normal.
  return std::ldexp(1.0f, static_cast<int>(s) - 127);
}

std::uint8_t block_scale(std::span<const float, kBlock> block, ExponentRule rule) {
  float max_abs = 0.0f;
  for (float v : block) {
    // Any NaN or infinity makes the whole block NaN: no finite scale can describe it, and a NaN
    // scale keeps the problem visible after dequantisation instead of hiding it behind ±6.
    if (!std::isfinite(v)) return kNanScale;
    max_abs = std::max(max_abs, std::fabs(v));
  }
  if (max_abs == 0.0f) return 0;
  const int x = rule == ExponentRule::Floor ? floor_log2(max_abs) - 2 : ceil_log2_over_6(max_abs);
  return static_cast<std::uint8_t>(std::clamp(x, kMinExponent, kMaxExponent) + 127);
}

void quantize_rows(std::span<const float> values, std::int64_t rows, std::int64_t k, ExponentRule rule,
                   std::span<std::uint8_t> packed, std::span<std::uint8_t> scales) {
  check_sizes(rows, k, values.size(), packed.size(), scales.size(), "quantize_rows");
  const std::size_t n_blocks = scales.size();
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const std::span<const float, kBlock> block(values.data() + b * kBlock, kBlock);
    const std::uint8_t scale = block_scale(block, rule);
    scales[b] = scale;
    std::uint8_t* out = packed.data() + b * kBlockBytes;
    if (scale == kNanScale) {  // the scale alone carries the NaN; the codes are irrelevant
      std::fill(out, out + kBlockBytes, std::uint8_t{0});
      continue;
    }
    const int x = static_cast<int>(scale) - 127;
    for (int i = 0; i < kBlockBytes; ++i) {
      // ldexp divides by 2^X exactly (only results far below E2M1's 0.25 threshold can round).
      const std::uint8_t even = e2m1_encode(std::ldexp(block[2 * i], -x));
      const std::uint8_t odd = e2m1_encode(std::ldexp(block[2 * i + 1], -x));
      out[i] = pack_pair(even, odd);
    }
  }
}

void dequantize_rows(std::span<const std::uint8_t> packed, std::span<const std::uint8_t> scales,
                     std::int64_t rows, std::int64_t k, std::span<float> out) {
  check_sizes(rows, k, out.size(), packed.size(), scales.size(), "dequantize_rows");
  for (std::size_t b = 0; b < scales.size(); ++b) {
    const float scale = e8m0_decode(scales[b]);
    const std::uint8_t* in = packed.data() + b * kBlockBytes;
    float* dst = out.data() + b * kBlock;
    for (int i = 0; i < kBlockBytes; ++i) {
      dst[2 * i] = e2m1_decode(low_code(in[i])) * scale;
      dst[2 * i + 1] = e2m1_decode(high_code(in[i])) * scale;
    }
  }
}

}  // namespace mxg::mxfp4
