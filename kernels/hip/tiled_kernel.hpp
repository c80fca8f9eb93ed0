// The prefill kernel: many tokens per expert, so the stage is bound by arithmetic. A block computes
// a BM-pair x BN-column tile of one expert: each 64-element k-step stages the pairs' inputs (bf16)
// and dequantises the matching weight chunks to bf16 in shared memory (exact: an E2M1 value times a
// power of two has two significant bits), then every pair in the tile reuses them. Two buffers and
// register prefetch overlap the next step's loads with this step's math. The math is NVIDIA tensor
// cores (MmaTile) or plain FMAs (SimtTile, any GPU).
//
// Column order inside a stage-1 tile: each group of 16 shared rows holds 8 gate rows, then the 8
// up rows of the same units, so one thread's accumulators hold both halves of a unit's SwiGLU.
#pragma once

#include <cstdint>

#include "kernels/hip/device_prims.hpp"
#include "kernels/hip/mma_bf16.hpp"
#include "kernels/hip/stage_args.hpp"

namespace mxg::gpu {

inline constexpr int kTiledThreads = 256;

template <int BM, int BN>
struct TileConfig {
  static constexpr int kBK = 64;       // k elements per step: two weight chunks per row
  static constexpr int kLd = kBK + 8;  // row pitch 144 bytes: 8 rows hit 8 distinct 16-byte bank groups
  static constexpr int kAVectors = BM * kBK / 8 / kTiledThreads;  // 16-byte input loads per thread
  static constexpr int kBLoaders = BN * 2;                           // threads loading one weight chunk
  static constexpr std::int64_t kSharedBytes = 2 * std::int64_t(BM + BN) * kLd * 2;
  static_assert(kAVectors >= 1 && kBLoaders <= kTiledThreads, "tile does not fit 256 threads");
};

// Tensor-core tile: 8 warps as WARPS_M x WARPS_N, each a WTM x WTN block of m16n8k16 products.
template <int BM, int BN>
struct MmaTile {
  static constexpr int kWarpsM = BM >= 64 ? 2 : 1, kWarpsN = 8 / kWarpsM;
  static constexpr int kWtm = BM / kWarpsM, kWtn = BN / kWarpsN;
  static constexpr int kMt = kWtm / 16, kNt = kWtn / 8;
  static_assert(kWtn % 16 == 0, "a warp's columns must hold whole gate/up groups");
  float acc[kMt][kNt][4] = {};

  __device__ void compute(const std::uint16_t* a_tile, const std::uint16_t* b_tile) {
#if defined(MXG_HAVE_MMA_BF16)
    constexpr int kLd = TileConfig<BM, BN>::kLd;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp / kWarpsN, wn = warp % kWarpsN;
#pragma unroll
    for (int kk = 0; kk < TileConfig<BM, BN>::kBK; kk += 16) {
      std::uint32_t af[kMt][4];
#pragma unroll
      for (int mt = 0; mt < kMt; ++mt) {
        ldmatrix_x4(af[mt], a_tile + (wm * kWtm + mt * 16 + (lane & 15)) * kLd + kk + (lane >> 4) * 8);
      }
      std::uint32_t bf[kNt][2];
#pragma unroll
      for (int p = 0; p < kNt / 2; ++p) {
        std::uint32_t r[4];
        ldmatrix_x4(r, b_tile + (wn * kWtn + p * 16 + (lane & 7) + ((lane >> 4) << 3)) * kLd + kk +
                           ((lane >> 3) & 1) * 8);
        bf[2 * p][0] = r[0];
        bf[2 * p][1] = r[1];
        bf[2 * p + 1][0] = r[2];
        bf[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
        for (int nt = 0; nt < kNt; ++nt) mma_bf16_16816(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
      }
    }
#else
    (void)a_tile;
    (void)b_tile;
    __builtin_trap();  // the launcher never selects this tile without tensor cores
#endif
  }

  // f(row, column, value) for every accumulator.
  template <class F>
  __device__ void for_each(F&& f) const {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp / kWarpsN, wn = warp % kWarpsN;
#pragma unroll
    for (int mt = 0; mt < kMt; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNt; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          f(wm * kWtm + mt * 16 + (lane >> 2) + (r >> 1) * 8, wn * kWtn + nt * 8 + (lane & 3) * 2 + (r & 1),
            acc[mt][nt][r]);
        }
  }

  // f(row, unit within the tile, gate, up): n-tile 2p holds gates, 2p+1 the matching ups.
  template <class F>
  __device__ void for_each_gate_up(F&& f) const {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp / kWarpsN, wn = warp % kWarpsN;
#pragma unroll
    for (int mt = 0; mt < kMt; ++mt)
#pragma unroll
      for (int p = 0; p < kNt / 2; ++p)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int gate_column = wn * kWtn + p * 16 + (lane & 3) * 2 + (r & 1);
          f(wm * kWtm + mt * 16 + (lane >> 2) + (r >> 1) * 8, (gate_column >> 4) * 8 + (gate_column & 7),
            acc[mt][2 * p][r], acc[mt][2 * p + 1][r]);
        }
  }
};

// FMA tile for any GPU: 16 x 16 threads, each 4 rows x 4 columns. A thread's columns are the gate
// and up rows of units tn and tn + 16; the 8 threads of one shared-memory phase read 8 distinct
// rows, and rows 144 bytes apart fall in distinct bank groups.
template <int BM, int BN>
struct SimtTile {
  static_assert(BM == 64 && BN == 64, "the FMA tile is 64 x 64");
  float acc[4][4] = {};

  __device__ static int row(int i) { return 4 * int(threadIdx.x >> 4) + i; }
  __device__ static int column(int j) {
    const int tn = threadIdx.x & 15;
    return (tn >> 3) * 16 + (tn & 7) + 8 * (j & 1) + 32 * (j >> 1);
  }

  __device__ void compute(const std::uint16_t* a_tile, const std::uint16_t* b_tile) {
    constexpr int kLd = TileConfig<BM, BN>::kLd;
#pragma unroll 2
    for (int k = 0; k < TileConfig<BM, BN>::kBK; k += 8) {
      float a[4][8], b[4][8];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const uint4 va = *reinterpret_cast<const uint4*>(a_tile + row(i) * kLd + k);
        const uint4 vb = *reinterpret_cast<const uint4*>(b_tile + column(i) * kLd + k);
        const std::uint32_t wa[4] = {va.x, va.y, va.z, va.w}, wb[4] = {vb.x, vb.y, vb.z, vb.w};
#pragma unroll
        for (int w = 0; w < 4; ++w) {
          a[i][2 * w] = bf16_low(wa[w]);
          a[i][2 * w + 1] = bf16_high(wa[w]);
          b[i][2 * w] = bf16_low(wb[w]);
          b[i][2 * w + 1] = bf16_high(wb[w]);
        }
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[i][j] = fmaf(a[i][e], b[j][e], acc[i][j]);
    }
  }

  template <class F>
  __device__ void for_each(F&& f) const {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) f(row(i), column(j), acc[i][j]);
  }

  template <class F>
  __device__ void for_each_gate_up(F&& f) const {
    const int tn = threadIdx.x & 15;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int u = 0; u < 2; ++u) f(row(i), tn + 16 * u, acc[i][2 * u], acc[i][2 * u + 1]);
  }
};

// Grid: x = column tile (stage 1: BN/2 units, stage 2: BN hidden rows), y = row tile of the routing
// tables (blocks past the number of row tiles exit).
template <int kStage, int BM, int BN, class Tile>
__global__ void __launch_bounds__(kTiledThreads) tiled_kernel(StageArgs a) {
  using Cfg = TileConfig<BM, BN>;
  constexpr int kLd = Cfg::kLd, kBK = Cfg::kBK;
  extern __shared__ __attribute__((aligned(16))) unsigned char tiled_shared[];
  __shared__ float table[16];
  std::uint16_t* const a_tiles = reinterpret_cast<std::uint16_t*>(tiled_shared);  // [2][BM][kLd]
  std::uint16_t* const b_tiles = a_tiles + 2 * BM * kLd;                            // [2][BN][kLd]

  const int tile = blockIdx.y;
  if (tile >= a.routing.totals[1]) return;
  const std::int64_t n0 = std::int64_t(blockIdx.x) * BN;
  if ((kStage == 1 ? n0 / 2 : n0) >= a.out_valid) return;
  load_e2m1_table(table);
  const int expert = a.routing.tile_expert[tile];
  const int first = a.routing.offsets[expert] + a.routing.tile_row[tile];
  const int rows = min(BM, a.routing.offsets[expert + 1] - first);
  const int tid = threadIdx.x;

  // Inputs: thread loads vectors tid + 256 i, i.e. row v / 8, elements 8 (v % 8) .. +8 of a step.
  const std::uint16_t* a_src[Cfg::kAVectors];
#pragma unroll
  for (int i = 0; i < Cfg::kAVectors; ++i) {
    const int m = (tid + i * kTiledThreads) >> 3;
    a_src[i] = m < rows ? x_row<kStage>(a, a.routing.sorted_pairs[first + m]) : nullptr;
  }
  // Weights: thread tid < 2 BN loads chunk tid % 2 of shared row tid / 2.
  const bool b_loader = tid < Cfg::kBLoaders;
  const int b_n = tid >> 1, b_half = tid & 1;
  std::int64_t b_row = 0;
  bool b_present = false;
  if (b_loader) {
    if (kStage == 1) {
      const std::int64_t unit = n0 / 2 + (b_n >> 4) * 8 + (b_n & 7);
      b_present = unit < a.out_valid;
      b_row = w13_row(unit, (b_n >> 3) & 1, a.interleave, a.intermediate_padded);
    } else {
      b_row = n0 + b_n;
      b_present = b_row < a.out_valid;
    }
  }

  uint4 a_reg[Cfg::kAVectors];
  uint4 b_reg = make_uint4(0u, 0u, 0u, 0u);
  std::uint32_t b_scale = 0;
  bool b_loaded = false;
  std::int64_t b_chunk = 0;

  auto fetch = [&](std::int64_t step) {
#pragma unroll
    for (int i = 0; i < Cfg::kAVectors; ++i) {
      const std::int64_t k = step * kBK + ((tid + i * kTiledThreads) & 7) * 8;
      a_reg[i] = make_uint4(0u, 0u, 0u, 0u);
      if (a_src[i] == nullptr || k >= a.k_valid) continue;
      if (k + 8 <= a.k_valid) {
        a_reg[i] = *reinterpret_cast<const uint4*>(a_src[i] + k);
      } else {
        std::uint32_t w[4] = {0u, 0u, 0u, 0u};
        for (int e = 0; k + e < a.k_valid; ++e) w[e / 2] |= std::uint32_t(a_src[i][k + e]) << (16 * (e % 2));
        a_reg[i] = make_uint4(w[0], w[1], w[2], w[3]);
      }
    }
    b_chunk = step * 2 + b_half;
    b_loaded = b_loader && b_present && b_chunk * kChunkElements < a.k_valid;
    if (b_loaded) {
      b_reg = load_chunk(a.weights, expert, b_row, b_chunk);
      b_scale = load_scale(a.weights, expert, b_row, b_chunk);
    }
  };

  auto store = [&](int buffer) {
    std::uint16_t* a_tile = a_tiles + buffer * BM * kLd;
#pragma unroll
    for (int i = 0; i < Cfg::kAVectors; ++i) {
      const int v = tid + i * kTiledThreads;
      *reinterpret_cast<uint4*>(a_tile + (v >> 3) * kLd + (v & 7) * 8) = a_reg[i];
    }
    if (!b_loader) return;
    uint4* dst = reinterpret_cast<uint4*>(b_tiles + buffer * BN * kLd + b_n * kLd + b_half * kChunkElements);
    if (!b_loaded) {
#pragma unroll
      for (int q = 0; q < 4; ++q) dst[q] = make_uint4(0u, 0u, 0u, 0u);
      return;
    }
    const float scale = e8m0_to_f32(b_scale);
    const std::int64_t present = a.k_valid - b_chunk * kChunkElements;  // >= 1; < 32 in the last chunk
    const std::uint32_t words[4] = {b_reg.x, b_reg.y, b_reg.z, b_reg.w};
    std::uint32_t out[16];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const int element = 8 * q + 2 * p;
        float lo = table[(words[q] >> (8 * p)) & 0xFu] * scale;
        float hi = table[(words[q] >> (8 * p + 4)) & 0xFu] * scale;
        if (element >= present) lo = 0.0f;
        if (element + 1 >= present) hi = 0.0f;
        // Exact in bf16, so dropping the low half is no rounding.
        out[4 * q + p] = (__float_as_uint(lo) >> 16) | (__float_as_uint(hi) & 0xFFFF0000u);
      }
    }
#pragma unroll
    for (int q = 0; q < 4; ++q) dst[q] = make_uint4(out[4 * q], out[4 * q + 1], out[4 * q + 2], out[4 * q + 3]);
  };

  Tile acc;
  const std::int64_t steps = (a.k_valid + kBK - 1) / kBK;
  fetch(0);
  __syncthreads();  // the E2M1 table is in place before the first dequantisation
  store(0);
  __syncthreads();
  for (std::int64_t step = 0; step < steps; ++step) {
    const bool more = step + 1 < steps;
    if (more) fetch(step + 1);
    const int buffer = int(step & 1);
    acc.compute(a_tiles + buffer * BM * kLd, b_tiles + buffer * BN * kLd);
    if (more) store(buffer ^ 1);
    __syncthreads();
  }

  if constexpr (kStage == 1) {
    const float* bias = a.bias + expert * a.bias_stride;
    acc.for_each_gate_up([&](int m, int unit_in_tile, float gate, float up) {
      const std::int64_t unit = n0 / 2 + unit_in_tile;
      if (m >= rows || unit >= a.out_valid) return;
      const std::int64_t pair = a.routing.sorted_pairs[first + m];
      gate += bias[unit];
      up += bias[a.intermediate_padded + unit];
      a.act[pair * a.act_stride + unit] = f32_to_bf16(swiglu(gate, up, a.swiglu_limit, a.alpha));
    });
  } else {
    const float* bias = a.bias + expert * a.bias_stride;
    acc.for_each([&](int m, int n, float value) {
      const std::int64_t hidden_row = n0 + n;
      if (m >= rows || hidden_row >= a.out_valid) return;
      const std::int64_t pair = a.routing.sorted_pairs[first + m];
      a.partial[pair * a.partial_stride + hidden_row] = value + bias[hidden_row];
    });
  }
}

}  // namespace mxg::gpu
