// The search space: every chain the layout library can build from one checkpoint expert tensor
// whose output has the dump's size and shape. Dimensions (LAYOUTS.md §4–§7):
//   slice     none (the checkpoint as is) or tp-slice(tp, rank) + pad, tp in 1..I/32 (or as given);
//             (tp, rank) pairs loading the same window into the same buffer are one slice
//   rows      de-interleaved or not (gate_up_* only)
//   shuffle   blocks: none | separated tiles | interleaved tiles (gate-up for w13);
//             scales: none | separated (stacked, padded to 256 rows) | interleaved (per expert);
//             biases: none
//   experts   E' = E / ep dump experts, which ones is found later (by fingerprint)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/diagnose/weights/chain.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::diagnose::weights {

struct SpaceLimits {
  std::optional<std::int64_t> tp;  // only tp-slices of this tp (1 also allows the unsliced checkpoint)
  std::optional<std::int64_t> ep;  // the dump holds checkpoint_experts / ep experts
};

// The checkpoint's expert geometry, checked against its kind (InputError naming `label`).
struct CheckpointGeometry {
  std::int64_t experts = 0, rows = 0, cols = 0;  // cols in elements (1 for a bias)
  std::int64_t intermediate = 0, hidden = 0;     // I, H (a bias knows one; the other equals it)
};
CheckpointGeometry checkpoint_geometry(layout::ExpertTensor kind, const Tensor& checkpoint, std::string_view label);

// Elements of a dump as the search counts them: bytes for blocks / scales, values for biases.
std::int64_t dump_elements(layout::ExpertTensor kind, const Tensor& dump);

// Candidate chains, each with `experts` sized to its dump expert count and filled with -1 (the
// pairing is found by fingerprint). Ordered: unsliced first, then tp, rank, rows, shuffle ascending.
std::vector<Chain> enumerate_chains(layout::ExpertTensor kind, const Tensor& checkpoint, const Tensor& dump,
                                    const SpaceLimits& limits, std::string_view checkpoint_label,
                                    std::string_view dump_label);

// Examples of dump shapes the space allows (for the message when none fits): "tp=1: [E', 6144, 1536]".
std::vector<std::string> example_dump_shapes(layout::ExpertTensor kind, const Tensor& checkpoint,
                                             const SpaceLimits& limits, std::string_view label);

}  // namespace mxg::diagnose::weights
