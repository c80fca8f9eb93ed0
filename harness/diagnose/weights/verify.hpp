// Exact verification of one chain with its expert pairing: every non-padding element of the dump
// is compared, byte for byte, with the checkpoint element the chain puts there. Counts tiles (16
// logical rows x 16 logical columns holding any data) and keeps the first mismatching ones, in the
// dump's logical coordinates, with what the checkpoint has there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/diagnose/weights/tiles.hpp"

namespace mxg::diagnose::weights {

struct Mismatch {
  std::int64_t dump_expert = 0, row_block = 0, col_block = 0;  // the tile, in the dump
  std::int64_t row = 0, col = 0;      // first differing element (logical, in dump expert)
  std::int64_t dump_offset = 0;       // its element offset in the dump tensor
  std::int64_t checkpoint_expert = -1;  // -1: the dump expert pairs with no checkpoint expert
  std::int64_t source_row = 0, source_col = 0;  // LayoutMap::kZero: the zeroed down bias
  // The two elements: "0x5a" for bytes, the value for biases ("-" when there is no checkpoint expert).
  std::string dump_value, checkpoint_value;
};

struct VerifyOptions {
  std::size_t max_records = 5;     // mismatching tiles kept (the first, in dump order)
  // Stop once the mismatching tiles hold at least this many data elements (0: compare everything;
  // 1: stop at the first mismatch).
  std::int64_t stop_after_lost = 0;
  unsigned threads = 0;            // 0: every hardware thread
};

struct Verification {
  std::int64_t tiles = 0;          // tiles holding data
  std::int64_t matched = 0;        // of them, byte-identical
  std::int64_t elements = 0;       // non-padding elements compared
  std::int64_t matched_elements = 0;  // of them, in byte-identical tiles
  std::vector<Mismatch> first;     // up to max_records, dump order
  bool stopped = false;            // stop_after reached: counts are partial
  bool exact() const { return !stopped && tiles > 0 && matched == tiles; }
  double fraction() const { return tiles == 0 ? 0.0 : static_cast<double>(matched) / static_cast<double>(tiles); }
};

// `experts[d]` is the checkpoint expert paired with dump expert d (-1: none).
Verification verify_chain(const Operands& ops, const LayoutMap& map, const std::vector<std::int64_t>& experts,
                          const VerifyOptions& options);

// One dump expert against one checkpoint expert: matching tiles (used to settle ties in the pairing).
std::int64_t matching_tiles(const Operands& ops, const LayoutMap& map, std::int64_t dump_expert,
                            std::int64_t checkpoint_expert);

}  // namespace mxg::diagnose::weights
