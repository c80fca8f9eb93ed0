// Platform-independent random streams and the exact transforms behind them.
// Compiled with -ffp-contract=off (CMakeLists.txt): a fused multiply-add would change bits
// between CPUs with and without FMA.
#include "harness/matrix/seeded_random.hpp"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/common/fnv1a.hpp"
#include "kernels/common/splitmix64.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::matrix {
namespace {

std::uint64_t splitmix64(std::uint64_t x) { return splitmix64_mix(x + kSplitMixGamma); }

}  // namespace

std::uint64_t stream_key(std::uint64_t seed, std::string_view tag, std::uint64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ fnv1a64(tag)) ^ index);
}

std::uint64_t SeededStream::below(std::uint64_t n) {
  // Values at or above `limit` would make some residues more likely than others.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x = engine_();
  while (x >= limit) x = engine_();
  return x % n;
}

double SeededStream::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double SeededStream::normal() {
  // Twelve 32-bit uniforms: their sum has mean 6·2^32 and variance 12·(2^64/12) = 2^64, so
  // (sum - 6·2^32) / 2^32 has variance 1. Every step is exact (|sum| < 2^36 < 2^53).
  std::int64_t sum = 0;
  for (int i = 0; i < 6; ++i) {
    const std::uint64_t x = engine_();
    sum += static_cast<std::int64_t>(x & 0xFFFFFFFFull) + static_cast<std::int64_t>(x >> 32);
  }
  return static_cast<double>(sum - (std::int64_t{6} << 32)) * 0x1.0p-32;
}

void SeededStream::fill(std::span<std::uint8_t> out) {
  // Little-endian byte order spelled out, so big-endian hosts produce the same bytes (compilers
  // turn the loop into one store on little-endian ones).
  for (std::size_t i = 0; i < out.size(); i += 8) {
    std::uint64_t x = engine_();
    for (std::size_t j = i; j < std::min(i + 8, out.size()); ++j, x >>= 8) out[j] = static_cast<std::uint8_t>(x & 0xFF);
  }
}

double portable_exp(double x) {
  if (x < -700.0) return 0.0;
  // x = n·ln2 + r with |r| <= ln2/2; ln2 split into a high part with trailing zero bits (so
  // n·kLn2Hi is exact for |n| < 2^11) and the remainder.
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2Hi = 0x1.62e42fee00000p-1;
  constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
  const double n = std::floor(x * kLog2e + 0.5);
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  // Taylor series to r^13 in Horner form: the first omitted term is below 0.35^14/14! < 1e-17.
  double p = 1.0;
  for (int i = 13; i >= 1; --i) p = 1.0 + p * r / i;
  return std::ldexp(p, static_cast<int>(n));
}

float round_to_bf16(double value) {
  // Rounding twice (double -> float -> bf16) can miss the nearest bf16 value when the first
  // rounding lands exactly on a bf16 tie. Rounding to odd first cannot: truncate to float and
  // set the last bit when anything was cut off, then round to nearest even.
  float f = static_cast<float>(value);
  if (std::fabs(static_cast<double>(f)) > std::fabs(value)) f = std::nextafter(f, 0.0f);
  if (static_cast<double>(f) != value) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    bits |= 1u;
    std::memcpy(&f, &bits, sizeof bits);
  }
  return bf16_to_f32(f32_to_bf16(f));
}

}  // namespace mxg::matrix
