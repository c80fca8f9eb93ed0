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

// Weight row of row `local` (0..31) of 32-row group `group`, as both decode kernels split a stage:
// in stage 1 a group is the 16 gate rows then the 16 up rows of units 16*group .. 16*group+15; in
// stage 2 it is 32 consecutive hidden rows. `present` is false past the stage's valid outputs.
template <int kStage>
__device__ __forceinline__ std::int64_t group_row(const StageArgs& a, int group, int local, bool& present) {
  if (kStage == 1) {
    const std::int64_t unit = 16 * std::int64_t(group) + (local & 15);
    present = unit < a.out_valid;
    return w13_row(unit, local >> 4, a.interleave, a.intermediate_padded);
  }
  const std::int64_t row = 32 * std::int64_t(group) + local;
  present = row < a.out_valid;
  return row;
}

}  // namespace mxg::gpu
