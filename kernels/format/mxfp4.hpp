// OCP Microscaling MXFP4: E2M1 elements, E8M0 block scales (32 elements along K), nibble packing
// and the block quantiser (LAYOUTS.md §1).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace mxg::mxfp4 {

inline constexpr int kBlock = 32;  // elements per E8M0 scale
inline constexpr int kBlockBytes = kBlock / 2;

// Decoded value of every E2M1 code (0..15); code 8 is -0.
inline constexpr std::array<float, 16> kE2M1Values = {
    0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

inline float e2m1_decode(std::uint8_t code) { return kE2M1Values[code & 0xF]; }
// Nearest E2M1 value, ties to the even mantissa, saturating at ±6; NaN encodes as +0 (E2M1 has
// no NaN; a NaN block is carried by its scale instead).
std::uint8_t e2m1_encode(float value);

// 2^(s-127); s = 255 is NaN.
float e8m0_decode(std::uint8_t s);

// Even-index element in the low nibble, odd-index in the high nibble.
inline std::uint8_t pack_pair(std::uint8_t even_code, std::uint8_t odd_code) {
  return static_cast<std::uint8_t>((even_code & 0xF) | ((odd_code & 0xF) << 4));
}
inline std::uint8_t low_code(std::uint8_t byte) { return byte & 0xF; }
inline std::uint8_t high_code(std::uint8_t byte) { return byte >> 4; }

// Element k of a packed row: the value of its nibble times its block's scale.
inline float dequant_element(const std::uint8_t* packed_row, const std::uint8_t* scale_row, std::int64_t k) {
  const std::uint8_t b = packed_row[k >> 1];
  const std::uint8_t code = (k & 1) ? high_code(b) : low_code(b);
  return e2m1_decode(code) * e8m0_decode(scale_row[k / kBlock]);
}

enum class ExponentRule {
  Floor,  // X = floor(log2(max|v|)) - 2, saturates at ±6 (OCP / AITER)
  Ceil,   // X = ceil(log2(max|v| / 6)), nothing saturates
};

// Shared exponent byte of one block of 32 values (a zero block gets the smallest scale, byte 0).
std::uint8_t block_scale(std::span<const float, kBlock> block, ExponentRule rule);

// Quantises `rows` rows of `k` values (k a multiple of 32) into packed [rows, k/2] bytes and
// [rows, k/32] E8M0 scales. Throws std::invalid_argument on sizes that do not match.
void quantize_rows(std::span<const float> values, std::int64_t rows, std::int64_t k, ExponentRule rule,
                   std::span<std::uint8_t> packed, std::span<std::uint8_t> scales);
// Inverse direction: [rows, k] floats.
void dequantize_rows(std::span<const std::uint8_t> packed, std::span<const std::uint8_t> scales,
                     std::int64_t rows, std::int64_t k, std::span<float> out);

}  // namespace mxg::mxfp4
