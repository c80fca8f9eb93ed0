// The decode kernel: few tokens per expert, so the stage is bound by reading weights. A block owns
// 32 weight rows of one routed expert (16 gate + 16 up rows of 16 units in stage 1, 32 hidden rows
// in stage 2) and streams them once per pass of up to kGemvTokens tokens, dequantising in
// registers. Lanes are paired over rows (r, r+1) and spread over 16 consecutive chunks, so each
// load instruction uses whole 32-byte sectors in the plain layout (two 256-byte row runs) and in
// the tile shuffle (rows r, r+1 of one tile are adjacent).
#pragma once

#include <cstdint>

#include "kernels/hip/device_prims.hpp"
#include "kernels/hip/stage_args.hpp"

namespace mxg::gpu {

inline constexpr int kGemvThreads = 256;
inline constexpr int kGemvRows = 32;    // weight rows per block
static_assert(kGemvRows == 32, "group_row (stage_args.hpp) splits a stage into 32-row groups");
inline constexpr int kGemvTokens = 4;   // tokens sharing one pass over the weights
inline constexpr int kGemvSweeps = 3;   // 16-chunk column sweeps whose loads are issued together
// Resident blocks per multiprocessor the register budget must allow: enough loads in flight to
// cover memory latency: two blocks of 6 loads of 16 bytes per thread keep ~48 KiB in flight.
inline constexpr int kGemvMinBlocks = 2;
// Inputs of one 32-element block in shared memory: 64 bytes of bf16 plus 16 bytes of padding, so
// the 16-byte reads of 8 lanes at consecutive blocks fall in distinct banks.
inline constexpr int kXBlockBytes = 80;

// Dynamic shared memory of one block for `k_valid` inputs.
constexpr std::int64_t gemv_shared_bytes(std::int64_t k_valid) {
  return kGemvTokens * ((k_valid + kChunkElements - 1) / kChunkElements) * kXBlockBytes;
}

namespace detail {

// Copies the inputs of `count` pairs starting at sorted position `first` into shared memory as
// [token][block][80 bytes]; absent inputs (k >= k_valid) become zeros.
template <int kStage>
__device__ void stage_gemv_inputs(const StageArgs& a, int first, int count, std::int64_t blocks,
                                  unsigned char* xs) {
  const std::int64_t vectors = count * blocks * 4;  // 8 bf16 per 16-byte vector
  for (std::int64_t v = threadIdx.x; v < vectors; v += kGemvThreads) {
    const std::int64_t t = v / (blocks * 4), rem = v % (blocks * 4);
    const std::int64_t block = rem / 4, quarter = rem % 4;
    const std::int64_t k = block * kChunkElements + quarter * 8;
    const std::uint16_t* src = x_row<kStage>(a, a.routing.sorted_pairs[first + t]) + k;
    uint4 out = make_uint4(0u, 0u, 0u, 0u);
    if (k + 8 <= a.k_valid) {
      out = *reinterpret_cast<const uint4*>(src);
    } else if (k < a.k_valid) {
      std::uint32_t w[4] = {0u, 0u, 0u, 0u};
      for (int i = 0; i < 8 && k + i < a.k_valid; ++i) w[i / 2] |= std::uint32_t(src[i]) << (16 * (i % 2));
      out = make_uint4(w[0], w[1], w[2], w[3]);
    }
    *reinterpret_cast<uint4*>(xs + (t * blocks + block) * kXBlockBytes + quarter * 16) = out;
  }
}

// acc[t] += scale * sum_i value(code_i) * x[t][i] over one 32-element block, 8 elements at a time
// so only 8 decoded weights are live at once.
__device__ __forceinline__ void gemv_block(const float* table, uint4 packed, float scale,
                                           const unsigned char* xs_block, std::int64_t token_stride, int tokens,
                                           float (&acc)[kGemvTokens]) {
  const std::uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
  float even[kGemvTokens] = {}, odd[kGemvTokens] = {};
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    float w[8];
#pragma unroll
    for (int m = 0; m < 8; ++m) w[m] = table[(words[q] >> (4 * m)) & 0xFu];
#pragma unroll
    for (int t = 0; t < kGemvTokens; ++t) {
      if (t >= tokens) continue;
      const uint4 v = reinterpret_cast<const uint4*>(xs_block + t * token_stride)[q];
      const std::uint32_t xw[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        even[t] = fmaf(w[2 * i], bf16_low(xw[i]), even[t]);
        odd[t] = fmaf(w[2 * i + 1], bf16_high(xw[i]), odd[t]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kGemvTokens; ++t) acc[t] = fmaf(even[t] + odd[t], scale, acc[t]);
}

}  // namespace detail

// Grid: x = active-expert slot (blocks past the number of active experts exit), y = 32-row group.
template <int kStage>
__global__ void __launch_bounds__(kGemvThreads, kGemvMinBlocks) gemv_kernel(StageArgs a) {
  extern __shared__ __attribute__((aligned(16))) unsigned char gemv_shared[];
  __shared__ float table[16];
  __shared__ float row_sums[kGemvRows][kGemvTokens];

  const int slot = blockIdx.x;
  if (slot >= a.routing.totals[0]) return;
  load_e2m1_table(table);
  const int expert = a.routing.active[slot];
  const int first = a.routing.offsets[expert];
  const int count = a.routing.offsets[expert + 1] - first;
  const int group = blockIdx.y;

  const int tid = threadIdx.x;
  const int lane16 = tid & 15;
  // Rows 4q .. 4q+3 of the block's 32 go to the 32 threads tid / 32 == q, as two pairs (r, r+1).
  std::int64_t row[2];
  bool row_present[2];
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    row[j] = group_row<kStage>(a, group, 4 * (tid >> 5) + 2 * j + ((tid >> 4) & 1), row_present[j]);
  }

  const std::int64_t blocks = (a.k_valid + kChunkElements - 1) / kChunkElements;
  const std::int64_t token_stride = blocks * kXBlockBytes;
  for (int t0 = 0; t0 < count; t0 += kGemvTokens) {
    const int tokens = count - t0 < kGemvTokens ? count - t0 : kGemvTokens;
    __syncthreads();  // the previous pass is done with the inputs, the row sums and (first) the table
    detail::stage_gemv_inputs<kStage>(a, first + t0, tokens, blocks, gemv_shared);
    __syncthreads();

    float acc[2][kGemvTokens] = {};
    for (std::int64_t c0 = 0; c0 < blocks; c0 += 16 * kGemvSweeps) {
      uint4 packed[2][kGemvSweeps];
      std::uint32_t scale_byte[2][kGemvSweeps];
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int s = 0; s < kGemvSweeps; ++s) {
          const std::int64_t chunk = c0 + 16 * s + lane16;
          if (row_present[j] && chunk < blocks) {
            packed[j][s] = load_chunk(a.weights, expert, row[j], chunk);
            scale_byte[j][s] = load_scale(a.weights, expert, row[j], chunk);
          }
        }
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int s = 0; s < kGemvSweeps; ++s) {
          const std::int64_t chunk = c0 + 16 * s + lane16;
          if (row_present[j] && chunk < blocks) {
            detail::gemv_block(table, packed[j][s], e8m0_to_f32(scale_byte[j][s]),
                               gemv_shared + chunk * kXBlockBytes, token_stride, tokens, acc[j]);
          }
        }
      }
    }

    // Sum the 16 lanes of each row (fixed butterfly order: reproducible), then the epilogue.
#pragma unroll
    for (int j = 0; j < 2; ++j) {
#pragma unroll
      for (int t = 0; t < kGemvTokens; ++t) {
        float v = acc[j][t];
        for (int mask = 8; mask > 0; mask >>= 1) v += shuffle_xor16(v, mask);
        if (lane16 == 0) row_sums[4 * (tid >> 5) + 2 * j + ((tid >> 4) & 1)][t] = v;
      }
    }
    __syncthreads();

    if (kStage == 1) {
      const int i = tid & 15, t = tid >> 4;  // unit 16*group + i, token t of the pass
      const std::int64_t unit = 16 * std::int64_t(group) + i;
      if (t < tokens && unit < a.out_valid) {
        const float* bias = a.bias + expert * a.bias_stride;
        const float gate = row_sums[i][t] + bias[unit];
        const float up = row_sums[16 + i][t] + bias[a.intermediate_padded + unit];
        const std::int64_t pair = a.routing.sorted_pairs[first + t0 + t];
        a.act[pair * a.act_stride + unit] = f32_to_bf16(swiglu(gate, up, a.swiglu_limit, a.alpha));
      }
    } else {
      const int i = tid & 31, t = tid >> 5;
      const std::int64_t hidden_row = std::int64_t(kGemvRows) * group + i;
      if (t < tokens && hidden_row < a.out_valid) {
        const std::int64_t pair = a.routing.sorted_pairs[first + t0 + t];
        a.partial[pair * a.partial_stride + hidden_row] =
            row_sums[i][t] + a.bias[expert * a.bias_stride + hidden_row];
      }
    }
  }
}

}  // namespace mxg::gpu
