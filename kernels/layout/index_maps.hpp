// The one place each layout formula of LAYOUTS.md §4–§7 is written. Transforms, their inverses,
// `layout explain`, the host backend's reads and the matrix's expectation rules all call these;
// none re-derives an index. Every row/offset function maps a source coordinate to a destination
// position inside ONE expert (callers add the expert's base offset). The ggml family's formulas
// (llama.cpp's gate/up split, block_mxfp4 nibble order, scale byte) are in ggml_index_maps.hpp.
#pragma once

#include <algorithm>
#include <cstdint>

// The formulas are also compiled into GPU kernels (kernels/hip), which read through them.
#if defined(__CUDACC__) || defined(__HIPCC__)
#define MXG_HOST_DEVICE __host__ __device__
#else
#define MXG_HOST_DEVICE
#endif

namespace mxg::layout {

MXG_HOST_DEVICE constexpr std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }
MXG_HOST_DEVICE constexpr std::int64_t ceil_div(std::int64_t x, std::int64_t m) { return (x + m - 1) / m; }

inline constexpr std::int64_t kTileRows = 16;   // weight tile: 16 rows x 16 bytes
inline constexpr std::int64_t kTileBytes = 16;
inline constexpr std::int64_t kTileSize = kTileRows * kTileBytes;

// §5 gate/up de-interleave of one expert with `rows` rows (even): checkpoint row 2j+h
// (h = 0 gate, 1 up) becomes row h*n + j, n = rows/2.
MXG_HOST_DEVICE constexpr std::int64_t deinterleave_row(std::int64_t checkpoint_row, std::int64_t rows) {
  return (checkpoint_row % 2) * (rows / 2) + checkpoint_row / 2;
}
// Inverse of deinterleave_row: which checkpoint row a [gate | up] row came from.
MXG_HOST_DEVICE constexpr std::int64_t interleave_row(std::int64_t separated_row, std::int64_t rows) {
  const std::int64_t n = rows / 2;
  return 2 * (separated_row % n) + separated_row / n;
}

// §6 first step of the interleaved-tiles shuffle with gate_up: [gate | up] halves of n rows each
// become alternating 16-row blocks [G0, U0, G1, U1, ...]; n must be a multiple of 16.
MXG_HOST_DEVICE constexpr std::int64_t block_interleave_row(std::int64_t separated_row, std::int64_t rows) {
  const std::int64_t n = rows / 2;
  const std::int64_t h = separated_row / n, q = separated_row % n;
  return (q / kTileRows) * 2 * kTileRows + h * kTileRows + q % kTileRows;
}
// Inverse of block_interleave_row.
MXG_HOST_DEVICE constexpr std::int64_t block_deinterleave_row(std::int64_t blocked_row, std::int64_t rows) {
  const std::int64_t n = rows / 2;
  const std::int64_t pair = blocked_row / (2 * kTileRows);
  const std::int64_t h = (blocked_row / kTileRows) % 2;
  return h * n + pair * kTileRows + blocked_row % kTileRows;
}

// §6 separated-tiles weight shuffle: byte (r, c) of an expert with `row_bytes` (Kb) bytes per row
// goes to this offset. Preconditions (checked by callers): rows % 16 == 0, Kb % 32 == 0.
MXG_HOST_DEVICE constexpr std::int64_t tile_shuffle_offset(std::int64_t r, std::int64_t c, std::int64_t row_bytes) {
  return ((r / kTileRows) * (row_bytes / kTileBytes) + c / kTileBytes) * kTileSize +
         (r % kTileRows) * kTileBytes + c % kTileBytes;
}
// Inverse: the (row, byte) whose byte lands at `offset`.
struct RowCol {
  std::int64_t row, col;
};
MXG_HOST_DEVICE constexpr RowCol tile_shuffle_source(std::int64_t offset, std::int64_t row_bytes) {
  const std::int64_t tile = offset / kTileSize, in_tile = offset % kTileSize;
  const std::int64_t tiles_per_row = row_bytes / kTileBytes;
  return {(tile / tiles_per_row) * kTileRows + in_tile / kTileBytes,
          (tile % tiles_per_row) * kTileBytes + in_tile % kTileBytes};
}

// §7 scale shuffle (separated formula) for E8M0 byte (r, j) of a [rows, cols] matrix whose cols
// are padded to `padded_cols` (a multiple of 8) and rows to a multiple of 32: 32-row x 8-column
// blocks, inside a block ordered (j%4, r%16, (j%8)/4, (r%32)/16).
MXG_HOST_DEVICE constexpr std::int64_t scale_shuffle_offset(std::int64_t r, std::int64_t j, std::int64_t padded_cols) {
  return (((((r / 32) * (padded_cols / 8) + j / 8) * 4 + j % 4) * 16 + r % 16) * 2 + (j % 8) / 4) * 2 +
         (r % 32) / 16;
}
MXG_HOST_DEVICE constexpr RowCol scale_shuffle_source(std::int64_t offset, std::int64_t padded_cols) {
  const std::int64_t row_half = offset % 2;
  const std::int64_t col_half = (offset / 2) % 2;
  const std::int64_t r16 = (offset / 4) % 16;
  const std::int64_t j4 = (offset / 64) % 4;
  const std::int64_t block = offset / 256;
  const std::int64_t col_blocks = padded_cols / 8;
  return {(block / col_blocks) * 32 + row_half * 16 + r16, (block % col_blocks) * 8 + col_half * 4 + j4};
}

// §6 complete weight map of one expert: byte (r, c) of the plain matrix ([gate | up] rows for w13)
// -> offset in the shuffled expert. `block_interleave` is interleaved tiles with gate_up; without
// it both tile modes are the separated formula.
MXG_HOST_DEVICE constexpr std::int64_t weight_shuffle_offset(std::int64_t r, std::int64_t c, std::int64_t rows,
                                             std::int64_t row_bytes, bool block_interleave) {
  return tile_shuffle_offset(block_interleave ? block_interleave_row(r, rows) : r, c, row_bytes);
}
MXG_HOST_DEVICE constexpr RowCol weight_shuffle_source(std::int64_t offset, std::int64_t rows, std::int64_t row_bytes,
                                       bool block_interleave) {
  RowCol rc = tile_shuffle_source(offset, row_bytes);
  if (block_interleave) rc.row = block_deinterleave_row(rc.row, rows);
  return rc;
}

// §7 padding of a scale shuffle's 2-D output: the separated shuffle pads the stacked [E*rows, cols]
// matrix to rows % 256 == 0 and cols % 8 == 0; the interleaved one pads cols only. AITER leaves the
// padding uninitialised; mxguard writes kScalePadByte (E8M0 127 = 1.0) so it is deterministic.
inline constexpr std::int64_t kScaleBlockRows = 32;
inline constexpr std::int64_t kScaleBlockCols = 8;
inline constexpr std::int64_t kScaleRowPadding = 256;
inline constexpr std::uint8_t kScalePadByte = 0x7F;
MXG_HOST_DEVICE constexpr std::int64_t scale_padded_cols(std::int64_t cols) { return round_up(cols, kScaleBlockCols); }
MXG_HOST_DEVICE constexpr std::int64_t separated_scale_padded_rows(std::int64_t stacked_rows) {
  return round_up(stacked_rows, kScaleRowPadding);
}

// §7 complete scale map of a stacked [experts*rows, cols] E8M0 matrix into the 2-D shuffled output
// [padded rows, scale_padded_cols(cols)]. Separated: one matrix of experts*rows rows (32-row blocks
// may straddle experts). Interleaved (`per_expert`): each expert's rows % 32 == 0 block is shuffled
// on its own, after the 16-row gate/up block interleave when `block_interleave`.
struct ScaleShuffleGeometry {
  std::int64_t experts = 1, rows = 0, cols = 0;
  bool per_expert = false;
  bool block_interleave = false;
  constexpr std::int64_t padded_cols() const { return scale_padded_cols(cols); }
  constexpr std::int64_t padded_rows() const {
    return per_expert ? experts * rows : separated_scale_padded_rows(experts * rows);
  }
};
struct ExpertRowCol {
  std::int64_t expert, row, col;
};
constexpr std::int64_t scale_map_offset(const ScaleShuffleGeometry& g, std::int64_t e, std::int64_t r,
                                        std::int64_t j) {
  if (!g.per_expert) return scale_shuffle_offset(e * g.rows + r, j, g.padded_cols());
  const std::int64_t row = g.block_interleave ? block_interleave_row(r, g.rows) : r;
  return e * g.rows * g.padded_cols() + scale_shuffle_offset(row, j, g.padded_cols());
}
// Inverse of scale_map_offset. For a padding byte the result lies outside [experts, rows, cols]
// (expert >= experts or col >= cols); callers test that.
constexpr ExpertRowCol scale_map_source(const ScaleShuffleGeometry& g, std::int64_t offset) {
  if (!g.per_expert) {
    const RowCol rc = scale_shuffle_source(offset, g.padded_cols());
    return {rc.row / g.rows, rc.row % g.rows, rc.col};
  }
  const std::int64_t expert_bytes = g.rows * g.padded_cols();
  const RowCol rc = scale_shuffle_source(offset % expert_bytes, g.padded_cols());
  return {offset / expert_bytes, g.block_interleave ? block_deinterleave_row(rc.row, g.rows) : rc.row, rc.col};
}

// §4 tensor-parallel slice of the intermediate axis (SGLang's GPT-OSS loader) and the padding of
// the AITER path. The per-rank slice is whole 32-unit scale blocks, ceil((I/32)/tp) of them, so the
// last rank may get fewer units (or none); the padding, however, is sized from I/tp. The two
// disagree whenever tp does not divide I/32 (tp 4 and 8 for GPT-OSS): see `real_units_in_pad`.
inline constexpr std::int64_t kMxBlock = 32;            // elements per E8M0 scale
inline constexpr std::int64_t kParallelPadding = 256;   // H and I/tp are padded to this

struct TpPlan {
  std::int64_t intermediate = 0, hidden = 0, tp = 1, rank = 0;  // I, H, tp, r
  std::int64_t unit_start = 0, unit_end = 0;  // intermediate units [start, end) loaded by this rank
  std::int64_t units_loaded = 0;              // end - start
  std::int64_t shard_units = 0;               // I / tp: what the padding arithmetic assumes
  std::int64_t intermediate_padded = 0;       // I_p = round_up(I / tp, 256)
  std::int64_t hidden_padded = 0;             // H_p = round_up(H, 256)
  std::int64_t hidden_pad = 0;                // H_p - H
  std::int64_t intermediate_pad = 0;          // I_p - I / tp
  // Loaded units that sit inside the last `intermediate_pad` units, which a kernel honouring
  // intermediate_pad treats as absent (16 per rank at tp 4, 24 at tp 8 for GPT-OSS).
  std::int64_t real_units_in_pad = 0;
};

// Preconditions (checked by make_tp_plan in tp_slice.hpp): I % 32 == 0, H % 32 == 0, tp >= 1,
// 0 <= rank < tp.
constexpr TpPlan tp_plan(std::int64_t intermediate, std::int64_t hidden, std::int64_t tp, std::int64_t rank) {
  TpPlan p;
  p.intermediate = intermediate;
  p.hidden = hidden;
  p.tp = tp;
  p.rank = rank;
  const std::int64_t per_rank = ceil_div(intermediate / kMxBlock, tp) * kMxBlock;
  p.unit_start = std::min(rank * per_rank, intermediate);
  p.unit_end = std::min((rank + 1) * per_rank, intermediate);
  p.units_loaded = p.unit_end - p.unit_start;
  p.shard_units = intermediate / tp;
  p.intermediate_padded = round_up(p.shard_units, kParallelPadding);
  p.hidden_padded = round_up(hidden, kParallelPadding);
  p.hidden_pad = p.hidden_padded - hidden;
  p.intermediate_pad = p.intermediate_padded - p.shard_units;
  p.real_units_in_pad = std::max<std::int64_t>(0, p.units_loaded - p.shard_units);
  return p;
}

}  // namespace mxg::layout
