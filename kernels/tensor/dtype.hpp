// Element types of host tensors, with their safetensors names and sizes, and the
// bf16 / f16 <-> f32 conversions every component uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mxg {

enum class DType : std::uint8_t { U8, I8, I16, I32, I64, F16, BF16, F32, F64 };

// Safetensors spelling ("U8", "BF16", ...).
std::string_view dtype_name(DType t);
// Inverse of dtype_name; std::nullopt for a name mxguard does not handle.
std::optional<DType> parse_dtype(std::string_view name);
std::size_t dtype_size(DType t);

// bf16 is the top half of an IEEE binary32. Rounding is to nearest even; NaN stays NaN.
float bf16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_bf16(float value);
// IEEE binary16, with subnormals; rounding to nearest even; overflow gives infinity.
float f16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_f16(float value);

}  // namespace mxg
