// Expected outcome of a combination, DERIVED (DESIGN.md "The matrix"): compose the loader's
// preparation (row prep, then the weight / scale shuffles) with the kernel's read for
// (is_shuffled, gate_mode, pads) and ask whether every checkpoint element comes back where the
// reference expects it. Numeric comparison is the experiment; this is the hypothesis.
#pragma once

#include <cstdint>
#include <string>

#include "harness/matrix/dimensions.hpp"
#include "kernels/backend/pad_convention.hpp"

namespace mxg::matrix {

// Sizes of one TP rank's device buffers (LAYOUTS.md §4).
struct Geometry {
  std::int64_t hidden = 0;               // H: real inputs / outputs
  std::int64_t hidden_padded = 0;        // H_p
  std::int64_t loaded_units = 0;         // units the loader copied for this rank
  std::int64_t intermediate_padded = 0;  // I_p
  std::int64_t units_over_tp = 0;        // I / tp, what a buggy intermediate_pad is computed from
  std::int64_t experts = 1;              // experts in the device buffers

  std::int64_t stated_intermediate_pad(Padding p) const {
    return intermediate_padded - (p == Padding::Correct ? loaded_units : units_over_tp);
  }
  std::int64_t hidden_pad() const { return hidden_padded - hidden; }
};

// Where the loader put each element, and where the kernel reads it: offsets into the device
// buffers of LAYOUTS.md §8 (w13 [E, 2·I_p, H_p/2], w13 scales 2-D with `cols` columns, ...).
// `half` is 0 for gate, 1 for up. These are the composition of kernels/layout/index_maps.hpp.
struct DeviceMaps {
  Combination combo;
  Geometry g;

  std::int64_t w13_row_bytes() const { return g.hidden_padded / 2; }
  std::int64_t w13_scale_cols() const;  // padded to 8 when the scales are shuffled
  std::int64_t w2_row_bytes() const { return g.intermediate_padded / 2; }
  std::int64_t w2_scale_cols() const;

  // Loader side: checkpoint row `row` (interleaved numbering inside the rank's padded slice).
  std::int64_t placed_w13(std::int64_t expert, std::int64_t row, std::int64_t byte) const;
  std::int64_t placed_w13_scale(std::int64_t expert, std::int64_t row, std::int64_t col) const;
  std::int64_t placed_w13_bias(std::int64_t row) const;  // within one expert
  std::int64_t placed_w2(std::int64_t expert, std::int64_t row, std::int64_t byte) const;
  std::int64_t placed_w2_scale(std::int64_t expert, std::int64_t row, std::int64_t col) const;

  // Kernel side: gate (half 0) or up (half 1) of unit j.
  std::int64_t read_w13(std::int64_t expert, std::int64_t unit, int half, std::int64_t byte) const;
  std::int64_t read_w13_scale(std::int64_t expert, std::int64_t unit, int half, std::int64_t col) const;
  std::int64_t read_w13_bias(std::int64_t unit, int half) const;
  std::int64_t read_w2(std::int64_t expert, std::int64_t row, std::int64_t byte) const;
  std::int64_t read_w2_scale(std::int64_t expert, std::int64_t row, std::int64_t col) const;
};

struct Derivation {
  bool consistent = true;
  // For an inconsistent combination: the first element that does not come back, e.g.
  // "w13 scales: gate unit 16, block 0: kernel reads offset 1024, the loader put it at 512".
  std::string reason;
};

// `convention`: how the kernel that runs reads the stated pads (kernels/backend/pad_convention.hpp).
// With `granule` (AITER's CK-tile kernels) a pad computed from I/tp is rounded down far enough at
// GPT-OSS tp 4 and 8 that every loaded unit is computed, so padding from-i-over-tp is consistent there;
// with `exact` (FlyDSL, mxguard's kernels) it drops real units (the vLLM #44679 class).
Derivation derive(const Combination& combo, const Geometry& geometry,
                  PadConvention convention = PadConvention::Exact);

// Units the kernel computes for this combination's stated pad in `convention`.
std::int64_t kernel_units(const Combination& combo, const Geometry& geometry, PadConvention convention);

}  // namespace mxg::matrix
