// Final step of the layer: y[t, h] = sum over slots j, in slot order, of w[t, j] * o[t*k + j, h],
// rounded once to bf16. Fixed summation order instead of float atomics, so y is bit-reproducible.
#pragma once

#include <cstdint>

#include "kernels/hip/device_prims.hpp"

namespace mxg::gpu {

inline constexpr int kReduceThreads = 256;

__global__ void __launch_bounds__(kReduceThreads)
    reduce_slots_kernel(const float* __restrict__ partial, std::int64_t partial_stride,
                        const float* __restrict__ topk_weights, int topk, std::int64_t tokens,
                        std::int64_t hidden, std::uint16_t* __restrict__ y) {
  const std::int64_t total = tokens * hidden;
  for (std::int64_t i = std::int64_t(blockIdx.x) * kReduceThreads + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * kReduceThreads) {
    const std::int64_t t = i / hidden, h = i % hidden;
    float sum = 0.0f;
    for (int j = 0; j < topk; ++j) {
      const std::int64_t pair = t * topk + j;
      sum = fmaf(topk_weights[pair], partial[pair * partial_stride + h], sum);
    }
    y[i] = f32_to_bf16(sum);
  }
}

}  // namespace mxg::gpu
