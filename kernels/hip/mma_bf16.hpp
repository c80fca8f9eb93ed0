// NVIDIA tensor-core primitives for the tiled kernels: ldmatrix fragment loads from shared memory
// and the m16n8k16 bf16 MMA with f32 accumulation (sm_80 and newer, Hopper included). Defined only
// in NVIDIA device compilation for such targets (MXG_HAVE_MMA_BF16); other builds use the FMA path.
#pragma once

#include <cstdint>

#include "kernels/hip/gpu_runtime.hpp"

#if defined(MXG_GPU_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define MXG_HAVE_MMA_BF16 1
#endif

namespace mxg::gpu {

#if defined(MXG_HAVE_MMA_BF16)

__device__ __forceinline__ std::uint32_t shared_address(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// Four 8x8 b16 matrices; lane l supplies the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* row_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row_address)));
}

// c += a (16x16, row-major fragments) * b (16x8, column-major fragments).
__device__ __forceinline__ void mma_bf16_16816(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                               std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#endif

}  // namespace mxg::gpu
