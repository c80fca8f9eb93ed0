// Device-side element formats and small helpers shared by every kernel: bf16 <-> f32, E8M0 scales,
// the E2M1 table, the SwiGLU of LAYOUTS.md §3 and a 16-lane shuffle that works for 32- and
// 64-lane wavefronts alike. Included only by GPU sources.
#pragma once

#include <cstdint>

#include "kernels/hip/gpu_runtime.hpp"

namespace mxg::gpu {

// E2M1 codes 0..15 (8..15 negative, 8 is -0); each kernel copies it into shared memory, where
// the 16 words sit in 16 distinct banks and any mix of codes across a warp reads conflict-free.
static __constant__ float kE2M1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

__device__ __forceinline__ void load_e2m1_table(float* table) {
  if (threadIdx.x < 16) table[threadIdx.x] = kE2M1[threadIdx.x];
}

// bf16 is the upper half of an f32: widening is a shift.
__device__ __forceinline__ float bf16_low(std::uint32_t two_bf16) { return __uint_as_float(two_bf16 << 16); }
__device__ __forceinline__ float bf16_high(std::uint32_t two_bf16) {
  return __uint_as_float(two_bf16 & 0xFFFF0000u);
}

// Round to nearest even; NaN stays a (quiet) NaN.
__device__ __forceinline__ std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t u = __float_as_uint(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// 2^(s-127); s = 255 is NaN and s = 0 the subnormal 2^-127 (E8M0 has no zero).
__device__ __forceinline__ float e8m0_to_f32(std::uint32_t s) {
  if (s == 255u) return __uint_as_float(0x7FC00000u);
  if (s == 0u) return __uint_as_float(0x00400000u);
  return __uint_as_float(s << 23);
}

// Clamps written as comparisons so a NaN pre-activation stays NaN (fminf would hide it).
__device__ __forceinline__ float swiglu(float gate, float up, float limit, float alpha) {
  gate = gate > limit ? limit : gate;
  up = up > limit ? limit : (up < -limit ? -limit : up);
  const float sigmoid = 1.0f / (1.0f + expf(-alpha * gate));
  return (up + 1.0f) * gate * sigmoid;
}

// Butterfly exchange inside aligned groups of 16 lanes (mask < 16 keeps partners in the group).
__device__ __forceinline__ float shuffle_xor16(float v, int mask) {
#if defined(MXG_GPU_CUDA)
  return __shfl_xor_sync(0xFFFFFFFFu, v, mask);
#else
  return __shfl_xor(v, mask);
#endif
}

}  // namespace mxg::gpu
