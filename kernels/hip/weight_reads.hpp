// How the GPU kernels find a weight byte and its scale (LAYOUTS.md §8): the logical row of a gate/up
// unit for each gate mode, then the plain row-major or the tile-shuffled address of a 16-byte chunk
// (32 elements, one E8M0 block) and of its scale. Every layout formula comes from index_maps.hpp.
#pragma once

#include <cstdint>

#include "kernels/hip/gpu_runtime.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::gpu {

inline constexpr int kChunkBytes = 16;     // one 16-byte load: 32 E2M1 elements, one scale
inline constexpr int kChunkElements = 32;

// One packed MXFP4 matrix per expert ([E, rows, row_bytes]) and its 2-D E8M0 scales.
struct PackedMatrix {
  const std::uint8_t* bytes = nullptr;
  const std::uint8_t* scales = nullptr;
  std::int64_t rows = 0;        // per expert
  std::int64_t row_bytes = 0;   // K / 2
  std::int64_t scale_cols = 0;  // row stride of the scale tensor (padded cols when shuffled)
  bool shuffled = false;
};

// Logical w13 row of gate (half 0) or up (half 1) of `unit`: [gate | up] halves when separated,
// alternating 16-row gate/up blocks when interleaved.
__device__ __forceinline__ std::int64_t w13_row(std::int64_t unit, int half, bool interleave,
                                                std::int64_t intermediate_padded) {
  const std::int64_t separated = half * intermediate_padded + unit;
  return interleave ? layout::block_interleave_row(separated, 2 * intermediate_padded) : separated;
}

// Offset inside one expert of chunk `chunk` of logical row `row`. A tile row holds 16 contiguous
// bytes, so a chunk is contiguous in both layouts and one 16-byte load fetches it.
__device__ __forceinline__ std::int64_t chunk_offset(const PackedMatrix& m, std::int64_t row, std::int64_t chunk) {
  const std::int64_t col = chunk * kChunkBytes;
  return m.shuffled ? layout::tile_shuffle_offset(row, col, m.row_bytes) : row * m.row_bytes + col;
}

__device__ __forceinline__ uint4 load_chunk(const PackedMatrix& m, std::int64_t expert, std::int64_t row,
                                            std::int64_t chunk) {
  const std::uint8_t* base = m.bytes + expert * m.rows * m.row_bytes;
  return *reinterpret_cast<const uint4*>(base + chunk_offset(m, row, chunk));
}

// The scale tensor is 2-D over all experts, so the shuffle is applied to the stacked row.
__device__ __forceinline__ std::uint32_t load_scale(const PackedMatrix& m, std::int64_t expert, std::int64_t row,
                                                    std::int64_t block) {
  const std::int64_t stacked = expert * m.rows + row;
  const std::int64_t offset = m.shuffled ? layout::scale_shuffle_offset(stacked, block, m.scale_cols)
                                         : stacked * m.scale_cols + block;
  return m.scales[offset];
}

}  // namespace mxg::gpu
