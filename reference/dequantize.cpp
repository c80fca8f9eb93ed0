// Dequantisation of MXFP4 rows: a scalar version (a per-block 16-entry table of scaled values) and,
// when the build targets it, an AVX-512 / AVX2 version that looks the codes up with a permute.
// Both produce identical bits: each element is the single product e2m1(code) * 2^(s-127).
#include "reference/dequantize.hpp"

#include <array>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/format/mxfp4.hpp"

namespace mxg::ref {

namespace {

constexpr std::int64_t kBlock = mxfp4::kBlock;
constexpr std::int64_t kBlockBytes = mxfp4::kBlockBytes;

// e8m0_decode for every byte, computed once: decoding per block would cost an ldexp per 32 elements.
template <class S>
const std::array<S, 256>& scale_values() {
  static const std::array<S, 256> values = [] {
    std::array<S, 256> v;
    for (int s = 0; s < 256; ++s) v[s] = static_cast<S>(mxfp4::e8m0_decode(static_cast<std::uint8_t>(s)));
    return v;
  }();
  return values;
}

template <class S>
void dequantize_block_portable(const std::uint8_t* bytes, S scale, S* out) {
  std::array<S, 16> table;
  // A NaN scale (E8M0 255) makes every element that NaN, bit for bit: the product's NaN would
  // otherwise depend on which operand the compiler puts first (x86 returns the first NaN operand),
  // and the SIMD path multiplies table x scale, so it returns the scale's NaN.
  for (int c = 0; c < 16; ++c) table[c] = scale != scale ? scale : static_cast<S>(mxfp4::kE2M1Values[c]) * scale;
  for (std::int64_t i = 0; i < kBlockBytes; ++i) {
    out[2 * i] = table[mxfp4::low_code(bytes[i])];
    out[2 * i + 1] = table[mxfp4::high_code(bytes[i])];
  }
}

#if defined(__AVX512F__) || defined(__AVX2__)
// The 32 codes of one block, in element order, as bytes: low nibble of byte i is element 2i.
inline void block_codes(const std::uint8_t* bytes, __m128i& first16, __m128i& last16) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m128i low = _mm_and_si128(packed, nibble);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
  first16 = _mm_unpacklo_epi8(low, high);
  last16 = _mm_unpackhi_epi8(low, high);
}
#endif

#if defined(__AVX512F__)
void dequantize_block_simd(const std::uint8_t* bytes, float scale_value, float* out) {
  const __m512 table = _mm512_loadu_ps(mxfp4::kE2M1Values.data());
  const __m512 scale = _mm512_set1_ps(scale_value);
  __m128i first16, last16;
  block_codes(bytes, first16, last16);
  _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(first16), table), scale));
  _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(last16), table), scale));
}
constexpr std::string_view kSimdLevel = "avx512";
#elif defined(__AVX2__)
// AVX2 permutes 8 entries: look the magnitude (code & 7) up, then set the sign from bit 3.
inline __m256 lookup8(__m128i codes8, __m256 magnitudes) {
  const __m256i idx = _mm256_cvtepu8_epi32(codes8);
  const __m256 value = _mm256_permutevar8x32_ps(magnitudes, idx);
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(idx, _mm256_set1_epi32(8)), 28);
  return _mm256_xor_ps(value, _mm256_castsi256_ps(sign));
}
void dequantize_block_simd(const std::uint8_t* bytes, float scale_value, float* out) {
  const __m256 magnitudes = _mm256_loadu_ps(mxfp4::kE2M1Values.data());
  const __m256 scale = _mm256_set1_ps(scale_value);
  __m128i first16, last16;
  block_codes(bytes, first16, last16);
  _mm256_storeu_ps(out, _mm256_mul_ps(lookup8(first16, magnitudes), scale));
  _mm256_storeu_ps(out + 8, _mm256_mul_ps(lookup8(_mm_srli_si128(first16, 8), magnitudes), scale));
  _mm256_storeu_ps(out + 16, _mm256_mul_ps(lookup8(last16, magnitudes), scale));
  _mm256_storeu_ps(out + 24, _mm256_mul_ps(lookup8(_mm_srli_si128(last16, 8), magnitudes), scale));
}
constexpr std::string_view kSimdLevel = "avx2";
#else
constexpr std::string_view kSimdLevel = "portable";
#endif

}  // namespace

template <class S>
void dequantize_rows_portable(const std::uint8_t* blocks, const std::uint8_t* scales, std::int64_t rows,
                              std::int64_t k, S* out) {
  const auto& scale_of = scale_values<S>();
  const std::int64_t n_blocks = rows * (k / kBlock);
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    dequantize_block_portable<S>(blocks + b * kBlockBytes, scale_of[scales[b]], out + b * kBlock);
  }
}

template <>
void dequantize_rows_to<double>(const std::uint8_t* blocks, const std::uint8_t* scales, std::int64_t rows,
                                std::int64_t k, double* out) {
  dequantize_rows_portable<double>(blocks, scales, rows, k, out);
}

template <>
void dequantize_rows_to<float>(const std::uint8_t* blocks, const std::uint8_t* scales, std::int64_t rows,
                               std::int64_t k, float* out) {
#if defined(__AVX512F__) || defined(__AVX2__)
  const auto& scale_of = scale_values<float>();
  const std::int64_t n_blocks = rows * (k / kBlock);
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    dequantize_block_simd(blocks + b * kBlockBytes, scale_of[scales[b]], out + b * kBlock);
  }
#else
  dequantize_rows_portable<float>(blocks, scales, rows, k, out);
#endif
}

template void dequantize_rows_portable<float>(const std::uint8_t*, const std::uint8_t*, std::int64_t, std::int64_t,
                                              float*);
template void dequantize_rows_portable<double>(const std::uint8_t*, const std::uint8_t*, std::int64_t,
                                               std::int64_t, double*);

std::string_view dequantize_simd_level() { return kSimdLevel; }

}  // namespace mxg::ref
