// dtype names, sizes and the half-precision conversions (bit manipulation, no FPU mode dependence).
#include "kernels/tensor/dtype.hpp"

#include <bit>
#include <cmath>
#include <cstring>

namespace mxg {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::U8: return "U8";
    case DType::I8: return "I8";
    case DType::I16: return "I16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F32: return "F32";
    case DType::F64: return "F64";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : {DType::U8, DType::I8, DType::I16, DType::I32, DType::I64, DType::F16, DType::BF16,
                  DType::F32, DType::F64}) {
    if (dtype_name(t) == name) return t;
  }
  return std::nullopt;
}

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::U8:
    case DType::I8: return 1;
    case DType::I16:
    case DType::F16:
    case DType::BF16: return 2;
    case DType::I32:
    case DType::F32: return 4;
    case DType::I64:
    case DType::F64: return 8;
  }
  return 1;
}

float bf16_to_f32(std::uint16_t bits) { return std::bit_cast<float>(std::uint32_t{bits} << 16); }

std::uint16_t f32_to_bf16(float value) {
  auto u = std::bit_cast<std::uint32_t>(value);
  if (std::isnan(value)) return static_cast<std::uint16_t>((u >> 16) | 0x40);  // keep it a quiet NaN
  // Round to nearest, ties to even, on the 16 bits dropped.
  const std::uint32_t lsb = (u >> 16) & 1u;
  u += 0x7FFFu + lsb;
  return static_cast<std::uint16_t>(u >> 16);
}

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
  const std::uint32_t exp = (h >> 10) & 0x1F;
  const std::uint32_t man = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: man * 2^-24
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

std::uint16_t f32_to_f16(float value) {
  const auto u = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  if (std::isnan(value)) return static_cast<std::uint16_t>(sign | 0x7E00u);
  const float a = std::fabs(value);
  if (a >= 65520.0f) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to infinity
  if (a < 6.103515625e-05f) {  // subnormal range: quantum 2^-24, nearbyint rounds ties to even
    const auto m = static_cast<std::uint16_t>(std::nearbyint(std::ldexp(a, 24)));
    return static_cast<std::uint16_t>(sign | m);  // m == 1024 carries into the smallest normal
  }
  std::uint32_t e = ((u >> 23) & 0xFF) - 112;
  std::uint32_t m = u & 0x7FFFFF;
  const std::uint32_t rest = m & 0x1FFF;
  m >>= 13;
  if (rest > 0x1000 || (rest == 0x1000 && (m & 1))) {
    ++m;
    if (m == 0x400) {
      m = 0;
      ++e;
    }
  }
  return static_cast<std::uint16_t>(sign | (e << 10) | m);
}

}  // namespace mxg
