// The one place each layout formula of LAYOUTS.md §5–§7 is written. Transforms, their inverses,
// `layout explain`, the host backend's reads and the matrix's expectation rules all call these;
// none re-derives an index. Every function maps a source coordinate to a destination position
// inside ONE expert (callers add the expert's base offset).
#pragma once

#include <cstdint>

namespace mxg::layout {

inline constexpr std::int64_t kTileRows = 16;   // weight tile: 16 rows x 16 bytes
inline constexpr std::int64_t kTileBytes = 16;
inline constexpr std::int64_t kTileSize = kTileRows * kTileBytes;

// §5 gate/up de-interleave of one expert with `rows` rows (even): checkpoint row 2j+h
// (h = 0 gate, 1 up) becomes row h*n + j, n = rows/2.
constexpr std::int64_t deinterleave_row(std::int64_t checkpoint_row, std::int64_t rows) {
  return (checkpoint_row % 2) * (rows / 2) + checkpoint_row / 2;
}
// Inverse of deinterleave_row: which checkpoint row a [gate | up] row came from.
constexpr std::int64_t interleave_row(std::int64_t separated_row, std::int64_t rows) {
  const std::int64_t n = rows / 2;
  return 2 * (separated_row % n) + separated_row / n;
}

// §6 first step of the interleaved-tiles shuffle with gate_up: [gate | up] halves of n rows each
// become alternating 16-row blocks [G0, U0, G1, U1, ...]; n must be a multiple of 16.
constexpr std::int64_t block_interleave_row(std::int64_t separated_row, std::int64_t rows) {
  const std::int64_t n = rows / 2;
  const std::int64_t h = separated_row / n, q = separated_row % n;
  return (q / kTileRows) * 2 * kTileRows + h * kTileRows + q % kTileRows;
}
// Inverse of block_interleave_row.
constexpr std::int64_t block_deinterleave_row(std::int64_t blocked_row, std::int64_t rows) {
  const std::int64_t n = rows / 2;
  const std::int64_t pair = blocked_row / (2 * kTileRows);
  const std::int64_t h = (blocked_row / kTileRows) % 2;
  return h * n + pair * kTileRows + blocked_row % kTileRows;
}

// §6 separated-tiles weight shuffle: byte (r, c) of an expert with `row_bytes` (Kb) bytes per row
// goes to this offset. Preconditions (checked by callers): rows % 16 == 0, Kb % 32 == 0.
constexpr std::int64_t tile_shuffle_offset(std::int64_t r, std::int64_t c, std::int64_t row_bytes) {
  return ((r / kTileRows) * (row_bytes / kTileBytes) + c / kTileBytes) * kTileSize +
         (r % kTileRows) * kTileBytes + c % kTileBytes;
}
// Inverse: the (row, byte) whose byte lands at `offset`.
struct RowCol {
  std::int64_t row, col;
};
constexpr RowCol tile_shuffle_source(std::int64_t offset, std::int64_t row_bytes) {
  const std::int64_t tile = offset / kTileSize, in_tile = offset % kTileSize;
  const std::int64_t tiles_per_row = row_bytes / kTileBytes;
  return {(tile / tiles_per_row) * kTileRows + in_tile / kTileBytes,
          (tile % tiles_per_row) * kTileBytes + in_tile % kTileBytes};
}

// §7 scale shuffle (separated formula) for E8M0 byte (r, j) of a [rows, cols] matrix whose cols
// are padded to `padded_cols` (a multiple of 8) and rows to a multiple of 32: 32-row x 8-column
// blocks, inside a block ordered (j%4, r%16, (j%8)/4, (r%32)/16).
constexpr std::int64_t scale_shuffle_offset(std::int64_t r, std::int64_t j, std::int64_t padded_cols) {
  return (((((r / 32) * (padded_cols / 8) + j / 8) * 4 + j % 4) * 16 + r % 16) * 2 + (j % 8) / 4) * 2 +
         (r % 32) / 16;
}
constexpr RowCol scale_shuffle_source(std::int64_t offset, std::int64_t padded_cols) {
  const std::int64_t row_half = offset % 2;
  const std::int64_t col_half = (offset / 2) % 2;
  const std::int64_t r16 = (offset / 4) % 16;
  const std::int64_t j4 = (offset / 64) % 4;
  const std::int64_t block = offset / 256;
  const std::int64_t col_blocks = padded_cols / 8;
  return {(block / col_blocks) * 32 + row_half * 16 + r16, (block % col_blocks) * 8 + col_half * 4 + j4};
}

constexpr std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }
constexpr std::int64_t ceil_div(std::int64_t x, std::int64_t m) { return (x + m - 1) / m; }

}  // namespace mxg::layout
