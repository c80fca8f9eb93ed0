// One chain of known transforms (kernels/layout) from a checkpoint expert tensor to what a serving
// process holds, and the pipeline line it prints as:
//   experts(32..63 of 128) → tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072) → deinterleave
//     → shuffle-weight(interleaved, gate-up)
// The chain is data (which transforms, with which parameters); chain_geometry() says what shape of
// dump it produces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/layout/tp_slice.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::diagnose::weights {

// The weight or scale shuffle family (biases are never shuffled). For down_proj tensors the two
// families are byte-identical (gate_up = false), so only `separated` is searched and the step
// prints as "separated≡interleaved".
enum class Shuffle : std::uint8_t { none, separated, interleaved };
std::string_view shuffle_name(Shuffle s);

bool is_gate_up(layout::ExpertTensor kind);
bool is_bias(layout::ExpertTensor kind);
bool is_scales(layout::ExpertTensor kind);
bool is_blocks(layout::ExpertTensor kind);

// A tp rank whose slice this is: several (tp, rank) can load the same window into the same padded
// buffer (the down bias of every rank 0, say), and then all of them are listed.
struct TpRank {
  std::int64_t tp = 1, rank = 0;
  bool operator==(const TpRank&) const = default;
};

// What the loader copied and how big the padded buffer is (LAYOUTS.md §4). Unsliced: the checkpoint
// itself, no tp-slice and no padding.
struct Slice {
  bool sliced = false;
  layout::TpWindow window;          // rows / bytes copied; dst_* is the padded expert (element_size 1)
  std::int64_t unit_start = 0, unit_end = 0;  // intermediate units loaded
  std::int64_t intermediate = 0, hidden = 0;  // I, H (a bias knows only one; the other equals it)
  std::int64_t intermediate_padded = 0, hidden_padded = 0;
  std::int64_t shard_units = 0;     // I / tp (what intermediate_pad is computed from)
  bool bias_zeroed = false;         // down_proj_bias on a rank other than 0
  std::vector<TpRank> ranks;        // every (tp, rank) giving exactly this slice, tp ascending
  // The down bias is the same on every tp (only rank 0 vs the others differ): `ranks` is empty
  // unless a tp was given.
  bool any_tp = false;
};

struct Chain {
  layout::ExpertTensor kind = layout::ExpertTensor::gate_up_proj_blocks;
  std::int64_t checkpoint_experts = 1;
  // dump expert d holds checkpoint expert experts[d]; -1 where no checkpoint expert matches it.
  std::vector<std::int64_t> experts;
  Slice slice;
  bool deinterleave = false;  // gate_up_* only
  Shuffle shuffle = Shuffle::none;
  DType checkpoint_dtype = DType::U8, dump_dtype = DType::U8;
};

// The dump a chain produces, in elements (bytes for blocks / scales, values for biases).
struct ChainGeometry {
  std::int64_t dump_experts = 0;
  std::int64_t rows = 0;       // rows per expert, before any shuffle (the dump's logical rows)
  std::int64_t cols = 0;       // elements per logical row (bytes of blocks / scales, 1 for a bias)
  std::int64_t real_rows = 0;  // rows holding checkpoint data (the rest is padding or zeroed)
  std::int64_t real_cols = 0;  // columns holding checkpoint data
  std::int64_t padded_cols = 0;           // shuffled scales: cols padded to 8
  std::int64_t dump_elements = 0;         // total elements of the dump, padding included
};
ChainGeometry chain_geometry(const Chain& c);

// Elements that come from the checkpoint (or are the zeroed down bias): what an exact match explains.
std::int64_t explained_elements(const Chain& c);

// The steps, in pipeline order ("tp-slice(tp=4, rank=1)", ...); "identity" when there are none.
std::vector<std::string> chain_steps(const Chain& c);
// Steps joined by " → ".
std::string chain_string(const Chain& c);
// "experts 32..63 of 128", "all 128 experts", "experts [5, 3, 9, ...] of 128".
std::string describe_experts(const Chain& c);
// "tp=4, rank=1"; several ranks: "tp=8, rank=1..7", "rank 0 of any tp (1..90)", ...
std::string describe_ranks(const Slice& s);

}  // namespace mxg::diagnose::weights
