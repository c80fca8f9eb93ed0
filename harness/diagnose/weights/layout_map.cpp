// The row / column source maps and physical offsets of a chain, from index_maps.hpp.
#include "harness/diagnose/weights/layout_map.hpp"

namespace mxg::diagnose::weights {

namespace lm = mxg::layout;

LayoutMap::LayoutMap(const Chain& c) : g_(chain_geometry(c)) {
  const lm::TpWindow& w = c.slice.window;
  col_begin_ = w.byte_begin;
  chunked_ = is_blocks(c.kind);
  // Row prep: logical row r of a de-interleaved tensor holds slice row interleave_row(r) (the
  // slice is in checkpoint order, padding rows included, exactly as the loader de-interleaves it).
  row_source_.resize(static_cast<std::size_t>(g_.rows));
  for (std::int64_t r = 0; r < g_.rows; ++r) {
    const std::int64_t slice_row = c.deinterleave ? lm::interleave_row(r, g_.rows) : r;
    std::int64_t src = kPad;
    if (slice_row < g_.real_rows) src = c.slice.bias_zeroed ? kZero : w.row_begin + slice_row;
    row_source_[static_cast<std::size_t>(r)] = src;
  }
  if (c.shuffle == Shuffle::none || is_bias(c.kind)) {
    physical_ = Physical::row_major;
  } else if (is_blocks(c.kind)) {
    physical_ = Physical::weight_tiles;
    block_interleave_ = is_gate_up(c.kind) && c.shuffle == Shuffle::interleaved;
  } else {
    physical_ = Physical::scale_shuffle;
    const bool per_expert = c.shuffle == Shuffle::interleaved;
    scale_ = lm::ScaleShuffleGeometry{g_.dump_experts, g_.rows, g_.cols, per_expert,
                                      per_expert && is_gate_up(c.kind)};
  }
}

std::int64_t LayoutMap::offset(std::int64_t d, std::int64_t row, std::int64_t col) const {
  switch (physical_) {
    case Physical::row_major: return (d * g_.rows + row) * g_.cols + col;
    case Physical::weight_tiles:
      return d * g_.rows * g_.cols + lm::weight_shuffle_offset(row, col, g_.rows, g_.cols, block_interleave_);
    case Physical::scale_shuffle: return lm::scale_map_offset(scale_, d, row, col);
  }
  return -1;
}

}  // namespace mxg::diagnose::weights
