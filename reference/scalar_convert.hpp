// Conversion of any float tensor to a contiguous vector of the compute scalar (float or double).
// Reads through memcpy, so tensors viewed at unaligned offsets of a mapped file are fine.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/tensor/tensor.hpp"

namespace mxg::ref {

template <class S>
std::vector<S> to_scalars(const Tensor& t) {
  std::vector<S> out(static_cast<std::size_t>(t.numel()));
  const std::byte* p = t.bytes().data();
  switch (t.dtype()) {
    case DType::F32:
      for (std::size_t i = 0; i < out.size(); ++i) {
        float v;
        std::memcpy(&v, p + 4 * i, 4);
        out[i] = static_cast<S>(v);
      }
      break;
    case DType::F64:
      for (std::size_t i = 0; i < out.size(); ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        out[i] = static_cast<S>(v);
      }
      break;
    case DType::BF16:
    case DType::F16:
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t bits;
        std::memcpy(&bits, p + 2 * i, 2);
        out[i] = static_cast<S>(t.dtype() == DType::BF16 ? bf16_to_f32(bits) : f16_to_f32(bits));
      }
      break;
    default:  // integer tensors: exact in double, as the caller asked for a value conversion
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<S>(t.value_at(static_cast<std::int64_t>(i)));
  }
  return out;
}

}  // namespace mxg::ref
