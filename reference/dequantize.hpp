// MXFP4 -> dense rows for the reference GEMMs: E2M1 codes times their E8M0 block scale
// (LAYOUTS.md §1), written row-major into a float or double buffer.
#pragma once

#include <cstdint>
#include <string_view>

namespace mxg::ref {

// Rows [0, rows) of a packed matrix with K columns (K a multiple of 32): row r's bytes start at
// blocks + r*K/2 (even element in the low nibble), its scales at scales + r*K/32. out is [rows, K].
// Exact in double; in float, exact except where 6 * 2^(s-127) overflows (s = 254 -> inf) — the
// same value a float kernel computes. Scale byte 255 makes its 32 elements NaN.
template <class S>
void dequantize_rows_to(const std::uint8_t* blocks, const std::uint8_t* scales, std::int64_t rows, std::int64_t k,
                        S* out);

// The same with plain scalar code, whatever the build's SIMD level (tests compare the two).
template <class S>
void dequantize_rows_portable(const std::uint8_t* blocks, const std::uint8_t* scales, std::int64_t rows,
                              std::int64_t k, S* out);

// Which float path dequantize_rows_to<float> uses in this build: "avx512", "avx2" or "portable".
std::string_view dequantize_simd_level();

}  // namespace mxg::ref
