// Groups the (token, slot) pairs by expert on the device: per-expert counts and offsets, the pairs
// in stable order (ascending pair index within an expert), the list of experts that received
// tokens, and the row tiles the tiled GEMMs iterate over. One block, integer arithmetic only, so the
// tables are the same on every run.
#pragma once

#include <cstdint>

#include "kernels/hip/gpu_runtime.hpp"

namespace mxg::gpu {

inline constexpr int kRoutingThreads = 1024;

// Views into the workspace; sizes are fixed by the launcher from (pairs, experts).
struct RoutingTables {
  std::int32_t* offsets = nullptr;       // [E + 1] first sorted position of each expert
  std::int32_t* sorted_pairs = nullptr;  // [P] pair indices (token * k + slot), grouped by expert
  std::int32_t* active = nullptr;        // [E] experts with at least one pair, ascending
  std::int32_t* tile_expert = nullptr;   // [max tiles] expert of each row tile
  std::int32_t* tile_row = nullptr;      // [max tiles] first row of the tile within its expert
  std::int32_t* totals = nullptr;        // [2] active experts, row tiles
};

namespace detail {

// Inclusive scan of three values per thread across the block (Hillis-Steele over shared memory).
__device__ inline void block_scan3(int (&v)[3], int (*scratch)[kRoutingThreads]) {
  const int tid = threadIdx.x;
  for (int i = 0; i < 3; ++i) scratch[i][tid] = v[i];
  __syncthreads();
  for (int step = 1; step < kRoutingThreads; step <<= 1) {
    int add[3] = {0, 0, 0};
    if (tid >= step) {
      for (int i = 0; i < 3; ++i) add[i] = scratch[i][tid - step];
    }
    __syncthreads();
    for (int i = 0; i < 3; ++i) scratch[i][tid] += add[i];
    __syncthreads();
  }
  for (int i = 0; i < 3; ++i) v[i] = scratch[i][tid];
}

}  // namespace detail

// Launch with one block of kRoutingThreads threads and experts * 8 bytes of dynamic shared memory.
// Ids outside [0, experts) are dropped (the host validates them; this only keeps reads in bounds).
__global__ void __launch_bounds__(kRoutingThreads)
    route_pairs_kernel(const std::int32_t* __restrict__ topk_ids, int pairs, int experts, int tile_rows,
                       RoutingTables tables) {
  extern __shared__ int routing_shared[];
  int* counts = routing_shared;            // [experts]
  int* cursor = routing_shared + experts;  // [experts] next sorted position of each expert
  __shared__ int scan[3][kRoutingThreads];
  __shared__ int carry[3];
  constexpr int kIdChunk = 4096;
  __shared__ int id_chunk[kIdChunk];
  const int tid = threadIdx.x;

  for (int e = tid; e < experts; e += kRoutingThreads) counts[e] = 0;
  if (tid < 3) carry[tid] = 0;
  __syncthreads();
  for (int p = tid; p < pairs; p += kRoutingThreads) {
    const int e = topk_ids[p];
    if (e >= 0 && e < experts) atomicAdd(&counts[e], 1);  // integer: order-independent result
  }
  __syncthreads();

  // Exclusive prefix sums of (pairs, is-active, row tiles) over experts, a block-width at a time.
  for (int base = 0; base < experts; base += kRoutingThreads) {
    const int e = base + tid;
    const int count = e < experts ? counts[e] : 0;
    const int own[3] = {count, count > 0 ? 1 : 0, (count + tile_rows - 1) / tile_rows};
    int v[3] = {own[0], own[1], own[2]};
    detail::block_scan3(v, scan);
    if (e < experts) {
      const int offset = carry[0] + v[0] - own[0];
      tables.offsets[e] = offset;
      cursor[e] = offset;
      if (own[1]) tables.active[carry[1] + v[1] - own[1]] = e;
      const int first_tile = carry[2] + v[2] - own[2];
      for (int t = 0; t < own[2]; ++t) {
        tables.tile_expert[first_tile + t] = e;
        tables.tile_row[first_tile + t] = t * tile_rows;
      }
    }
    __syncthreads();  // every thread has read carry
    if (tid == kRoutingThreads - 1) {
      for (int i = 0; i < 3; ++i) carry[i] += v[i];
    }
    __syncthreads();
  }
  if (tid == 0) {
    tables.offsets[experts] = carry[0];
    tables.totals[0] = carry[1];
    tables.totals[1] = carry[2];
  }

  // Stable scatter: the thread owning an expert walks the ids in pair order, so each expert's
  // pairs stay ascending. The ids pass through shared memory in chunks all threads read in
  // lock-step (broadcast reads).
  for (int chunk = 0; chunk < pairs; chunk += kIdChunk) {
    const int n = pairs - chunk < kIdChunk ? pairs - chunk : kIdChunk;
    __syncthreads();
    for (int i = tid; i < n; i += kRoutingThreads) id_chunk[i] = topk_ids[chunk + i];
    __syncthreads();
    for (int e = tid; e < experts; e += kRoutingThreads) {
      if (counts[e] == 0) continue;
      int pos = cursor[e];
      for (int i = 0; i < n; ++i) {
        if (id_chunk[i] == e) tables.sorted_pairs[pos++] = chunk + i;
      }
      cursor[e] = pos;
    }
  }
}

}  // namespace mxg::gpu
