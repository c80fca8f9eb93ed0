// Fast scoring of one candidate chain without reading the tensors through: a few probe tiles
// (spread over the rows and columns that hold checkpoint data) are fingerprinted in every dump
// expert and, for the same positions, in every checkpoint expert. Equal fingerprints vote for a
// (dump expert, checkpoint expert) pair; the votes give both the expert pairing (what an
// expert-parallel dump holds, in which order) and the candidate's score. Hashes only rank: a match
// is claimed only after verify_chain() compares bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "harness/diagnose/weights/tiles.hpp"

namespace mxg::diagnose::weights {

struct ScreenOptions {
  int probes = 8;        // probe tiles per candidate
  int early_probes = 2;  // after these, a candidate matching under half of them is dropped
};

struct Screen {
  double score = 0;   // fraction of (dump expert, probe) pairs whose fingerprint matched
  int probes = 0;     // probes evaluated
  std::vector<std::int64_t> experts;            // best checkpoint expert per dump expert (-1: none)
  std::vector<std::vector<std::int64_t>> ties;  // per dump expert: every checkpoint expert with as
                                                // many votes as the chosen one (size > 1 = ambiguous)
};

// Probe tiles of a map: (row block, column block) pairs whose rows all hold data, first and last
// included, spread over rows and columns.
struct TileRef {
  std::int64_t row_block = 0, col_block = 0;
};
std::vector<TileRef> probe_tiles(const LayoutMap& map, int count);

Screen screen_chain(const Operands& ops, const LayoutMap& map, const ScreenOptions& options);

}  // namespace mxg::diagnose::weights
