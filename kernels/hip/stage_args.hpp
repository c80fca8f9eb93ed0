// What one GEMM stage of the layer reads and writes, shared by the gemv and the tiled kernels.
// Stage 1: x = hidden rows (by token), weights w13, epilogue bias + SwiGLU -> activations (bf16).
// Stage 2: x = activations (by pair), weights w2, epilogue bias -> per-pair partial outputs (f32).
#pragma once

#include <cstdint>

#include "kernels/hip/routing_kernel.hpp"
#include "kernels/hip/weight_reads.hpp"

namespace mxg::gpu {

struct StageArgs {
  PackedMatrix weights;
  const float* bias = nullptr;  // [E, bias_stride]
  std::int64_t bias_stride = 0;
  const std::uint16_t* x = nullptr;  // bf16 rows: stage 1 by token, stage 2 by pair
  std::int64_t x_stride = 0;         // elements per x row
  std::int64_t k_valid = 0;          // inputs present (the rest of the row is absent padding)
  std::int64_t out_valid = 0;        // stage 1: units present; stage 2: hidden rows present
  int topk = 1;                      // stage 1: token of pair p is p / topk
  bool interleave = false;           // stage 1: gate mode
  std::int64_t intermediate_padded = 0;
  float swiglu_limit = 7.0f, alpha = 1.702f;
  std::uint16_t* act = nullptr;  // stage 1 output [P, act_stride]
  std::int64_t act_stride = 0;
  float* partial = nullptr;  // stage 2 output [P, partial_stride]
  std::int64_t partial_stride = 0;
  RoutingTables routing;
};

// Row of x that pair `pair` reads in each stage.
template <int kStage>
__device__ __forceinline__ const std::uint16_t* x_row(const StageArgs& a, std::int64_t pair) {
  const std::int64_t row = kStage == 1 ? pair / a.topk : pair;
  return a.x + row * a.x_stride;
}

}  // namespace mxg::gpu
