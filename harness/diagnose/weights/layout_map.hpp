// Where every element of a dump comes from under one chain. A dump is addressed by its LOGICAL
// coordinate (dump expert d, row, col): the device tensor after slicing and row prep, before any
// shuffle (the input shuffle_weight / shuffle_scale would see). Two separable maps give the
// checkpoint element of (row, col); the index formulas of kernels/layout/index_maps.hpp give the
// element's physical offset in the dump. Tiles are 16 logical rows x 16 logical columns.
#pragma once

#include <cstdint>
#include <vector>

#include "harness/diagnose/weights/chain.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::diagnose::weights {

inline constexpr std::int64_t kTileRows = layout::kTileRows;  // 16
inline constexpr std::int64_t kTileCols = layout::kTileBytes;  // 16

class LayoutMap {
 public:
  static constexpr std::int64_t kPad = -1;   // padding: never compared (its content is undefined)
  static constexpr std::int64_t kZero = -2;  // defined zero: the down bias on ranks other than 0

  explicit LayoutMap(const Chain& chain);

  const ChainGeometry& geometry() const { return g_; }
  std::int64_t row_blocks() const { return layout::ceil_div(g_.rows, kTileRows); }
  std::int64_t col_blocks() const { return layout::ceil_div(g_.cols, kTileCols); }
  // Blocks: a tile row's 16 columns are 16 contiguous bytes in the dump and in the checkpoint.
  bool chunked() const { return chunked_; }

  // Checkpoint row (inside its expert) that logical row `row` holds, or kPad / kZero.
  std::int64_t source_row(std::int64_t row) const { return row_source_[static_cast<std::size_t>(row)]; }
  // Checkpoint column of logical column `col`, or kPad.
  std::int64_t source_col(std::int64_t col) const { return col < g_.real_cols ? col_begin_ + col : kPad; }

  // Physical element offset in the dump of logical (d, row, col).
  std::int64_t offset(std::int64_t d, std::int64_t row, std::int64_t col) const;

 private:
  enum class Physical : std::uint8_t { row_major, weight_tiles, scale_shuffle };
  ChainGeometry g_;
  std::vector<std::int64_t> row_source_;
  std::int64_t col_begin_ = 0;
  bool chunked_ = false;
  Physical physical_ = Physical::row_major;
  bool block_interleave_ = false;
  layout::ScaleShuffleGeometry scale_;
};

}  // namespace mxg::diagnose::weights
