// Guard zones around kernel inputs: every weight and scale tensor a backend hands its kernel sits
// between two zones of 0xFF bytes. 0xFF is NaN as an E8M0 scale (LAYOUTS.md §1) and a NaN pair
// exponent as raw bytes, so a kernel that reads past either end of a tensor (an unmasked tail load,
// a scale index one block too far) turns its output NaN and the matrix FAILs it, instead of picking
// up whatever finite bytes happen to lie next to the tensor (the vLLM #47303 / Triton #10772 class:
// out-of-bounds scale reads that only showed where the surrounding memory held 0xFF).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/tensor/tensor.hpp"

namespace mxg {

inline constexpr std::uint8_t kGuardByte = 0xFF;
// Bytes on each side: a whole page, far more than any tail load reaches (a tile row is <= 256 B).
inline constexpr std::size_t kGuardBytes = 4096;

// A read-only view of a copy of `t` placed between two `guard_bytes` zones of 0xFF (the data starts
// 64-byte aligned when guard_bytes is a multiple of 64). The view keeps the whole block alive.
Tensor guarded_copy(const Tensor& t, std::size_t guard_bytes = kGuardBytes);

// Whether both zones around a tensor made by guarded_copy still hold only 0xFF (a kernel that
// wrote out of bounds changed them).
bool guards_intact(const Tensor& guarded, std::size_t guard_bytes = kGuardBytes);

}  // namespace mxg
