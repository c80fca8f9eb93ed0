// Kernel-read consistency of one diagnosed tensor through the matrix's DeviceMaps.
#include "harness/diagnose/weights/kernel_read.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "harness/matrix/derivation.hpp"
#include "kernels/format/mxfp4.hpp"

namespace mxg::diagnose::weights {

namespace {

using lm_kind = layout::ExpertTensor;
using matrix::Prep;
using matrix::ScaleShuffle;
using matrix::WeightShuffle;

const char* half_name(int h) { return h == 0 ? "gate" : "up"; }

matrix::Geometry geometry_of(const Chain& c) {
  const Slice& s = c.slice;
  return matrix::Geometry{.hidden = s.hidden,
                          .hidden_padded = s.hidden_padded,
                          .loaded_units = s.unit_end - s.unit_start,
                          .intermediate_padded = s.intermediate_padded,
                          .units_over_tp = s.shard_units,
                          .experts = static_cast<std::int64_t>(c.experts.size())};
}

// Row order of the diagnosed tensor as the scenario / combination dimension sees it.
bool rows_deinterleaved(lm_kind kind, Prep p) {
  switch (kind) {
    case lm_kind::gate_up_proj_blocks: return p != Prep::Interleaved;
    case lm_kind::gate_up_proj_scales: return p == Prep::Deinterleaved || p == Prep::DeinterleavedBiasInterleaved;
    case lm_kind::gate_up_proj_bias: return p == Prep::Deinterleaved || p == Prep::DeinterleavedScalesInterleaved;
    default: return true;
  }
}

std::optional<Prep> parse_prep(const std::string& v) {
  for (Prep p : {Prep::Interleaved, Prep::Deinterleaved, Prep::DeinterleavedBiasInterleaved,
                 Prep::DeinterleavedScalesInterleaved}) {
    if (matrix::name(p) == v) return p;
  }
  return std::nullopt;
}

// The first element whose read offset differs from where the loader put it, for the chain's tensor.
std::optional<std::string> first_miss(const Chain& c, const matrix::DeviceMaps& m) {
  const matrix::Geometry& g = m.g;
  const std::int64_t units = g.loaded_units, h_bytes = g.hidden / 2, h_cols = g.hidden / mxfp4::kBlock;
  const std::int64_t experts[] = {0, std::max<std::int64_t>(0, g.experts - 1)};
  for (const std::int64_t e : experts) {
    switch (c.kind) {
      case lm_kind::gate_up_proj_blocks:
        for (std::int64_t j = 0; j < units; ++j)
          for (int h = 0; h < 2; ++h)
            for (std::int64_t b = 0; b < h_bytes; ++b)
              if (m.read_w13(e, j, h, b) != m.placed_w13(e, 2 * j + h, b))
                return fmt::format("w13 weights: expert {}, {} unit {}, byte {}: kernel reads offset {}, the loader "
                                   "put it at offset {}",
                                   e, half_name(h), j, b, m.read_w13(e, j, h, b), m.placed_w13(e, 2 * j + h, b));
        break;
      case lm_kind::gate_up_proj_scales:
        for (std::int64_t j = 0; j < units; ++j)
          for (int h = 0; h < 2; ++h)
            for (std::int64_t col = 0; col < h_cols; ++col)
              if (m.read_w13_scale(e, j, h, col) != m.placed_w13_scale(e, 2 * j + h, col))
                return fmt::format("w13 scales: expert {}, {} unit {}, block {}: kernel reads offset {}, the loader "
                                   "put it at offset {}",
                                   e, half_name(h), j, col, m.read_w13_scale(e, j, h, col),
                                   m.placed_w13_scale(e, 2 * j + h, col));
        break;
      case lm_kind::gate_up_proj_bias:
        for (std::int64_t j = 0; j < units; ++j)
          for (int h = 0; h < 2; ++h)
            if (m.read_w13_bias(j, h) != m.placed_w13_bias(2 * j + h))
              return fmt::format("w13 bias: {} unit {}: kernel reads element {}, the loader put it at {}", half_name(h),
                                 j, m.read_w13_bias(j, h), m.placed_w13_bias(2 * j + h));
        break;
      case lm_kind::down_proj_blocks:
        for (std::int64_t r = 0; r < g.hidden; ++r)
          for (std::int64_t b = 0; b < units / 2; ++b)
            if (m.read_w2(e, r, b) != m.placed_w2(e, r, b))
              return fmt::format("w2 weights: expert {}, row {}, byte {}: kernel reads offset {}, the loader put it "
                                 "at offset {}",
                                 e, r, b, m.read_w2(e, r, b), m.placed_w2(e, r, b));
        break;
      case lm_kind::down_proj_scales:
        for (std::int64_t r = 0; r < g.hidden; ++r)
          for (std::int64_t col = 0; col < layout::ceil_div(units, mxfp4::kBlock); ++col)
            if (m.read_w2_scale(e, r, col) != m.placed_w2_scale(e, r, col))
              return fmt::format("w2 scales: expert {}, row {}, block {}: kernel reads offset {}, the loader put it "
                                 "at offset {}",
                                 e, r, col, m.read_w2_scale(e, r, col), m.placed_w2_scale(e, r, col));
        break;
      case lm_kind::down_proj_bias: break;
    }
  }
  return std::nullopt;
}

bool tiled(WeightShuffle w) { return w != WeightShuffle::None; }
bool tiled(ScaleShuffle s) { return s != ScaleShuffle::None; }

// Does the scenario's pattern hold for the dimensions this one tensor shows? Dimensions the tensor
// cannot show (the other tensors' preparation, the padding arithmetic) are not required; scenarios
// about padding are never claimed from a weight dump.
bool realises(const matrix::Scenario& s, const Chain& c, const matrix::Combination& combo) {
  if (s.family != "aiter") return false;  // another kernel family's dimensions: not this layout
  if (s.only_where_loaded_exceeds_i_over_tp) return false;
  const auto dims = matrix::dimension_map(combo);
  for (const auto& [dim, value] : s.match) {
    if (dim == "padding") {
      if (value != matrix::name(matrix::Padding::Correct)) return false;
    } else if (dim == "is_shuffled") {
      if (c.kind == lm_kind::gate_up_proj_bias) continue;  // biases are read the same under every flag
      if (dims.at(dim) != value) return false;
    } else if (dim == "gate_mode") {
      if (!is_gate_up(c.kind) || c.kind == lm_kind::gate_up_proj_bias) continue;  // w2 reads alike in both modes
      if (dims.at(dim) != value) return false;
    } else if (dim == "prep") {
      if (!is_gate_up(c.kind)) continue;
      const auto p = parse_prep(value);
      if (!p || rows_deinterleaved(c.kind, *p) != c.deinterleave) return false;
    } else if (dim == "weight_shuffle") {
      if (!is_blocks(c.kind)) continue;
      if (is_gate_up(c.kind) ? dims.at(dim) != value
                             : tiled(combo.weight_shuffle) != (value != matrix::name(WeightShuffle::None))) {
        return false;
      }
    } else if (dim == "scale_shuffle") {
      if (!is_scales(c.kind)) continue;
      if (is_gate_up(c.kind) ? dims.at(dim) != value
                             : tiled(combo.scale_shuffle) != (value != matrix::name(ScaleShuffle::None))) {
        return false;
      }
    }
  }
  return !is_bias(c.kind) || c.kind == lm_kind::gate_up_proj_bias;
}

}  // namespace

matrix::Combination chain_combination(const Chain& c, GateMode gate_mode, bool is_shuffled) {
  matrix::Combination combo;
  combo.gate_mode = gate_mode;
  combo.is_shuffled = is_shuffled;
  combo.padding = matrix::Padding::Correct;
  // The tensors not diagnosed get the choice consistent with the flags; only this one is checked.
  const bool interleave = gate_mode == GateMode::Interleave;
  combo.weight_shuffle = !is_shuffled ? WeightShuffle::None
                         : interleave ? WeightShuffle::InterleavedTiles
                                      : WeightShuffle::SeparatedTiles;
  combo.scale_shuffle = !is_shuffled ? ScaleShuffle::None : interleave ? ScaleShuffle::Interleaved : ScaleShuffle::Separated;
  combo.prep = Prep::Deinterleaved;
  switch (c.kind) {
    case lm_kind::gate_up_proj_blocks:
      combo.prep = c.deinterleave ? Prep::Deinterleaved : Prep::Interleaved;
      [[fallthrough]];
    case lm_kind::down_proj_blocks:
      combo.weight_shuffle = c.shuffle == Shuffle::none        ? WeightShuffle::None
                             : c.shuffle == Shuffle::separated ? WeightShuffle::SeparatedTiles
                                                               : WeightShuffle::InterleavedTiles;
      break;
    case lm_kind::gate_up_proj_scales:
      combo.prep = c.deinterleave ? Prep::Deinterleaved : Prep::DeinterleavedScalesInterleaved;
      [[fallthrough]];
    case lm_kind::down_proj_scales:
      combo.scale_shuffle = c.shuffle == Shuffle::none        ? ScaleShuffle::None
                            : c.shuffle == Shuffle::separated ? ScaleShuffle::Separated
                                                              : ScaleShuffle::Interleaved;
      break;
    case lm_kind::gate_up_proj_bias:
      combo.prep = c.deinterleave ? Prep::Deinterleaved : Prep::DeinterleavedBiasInterleaved;
      break;
    case lm_kind::down_proj_bias: break;
  }
  return combo;
}

KernelRead check_kernel_read(const Chain& c, GateMode gate_mode, bool is_shuffled,
                             const std::vector<matrix::Scenario>& scenarios) {
  KernelRead out;
  if (is_bias(c.kind)) {
    out.note = "biases are read in [gate | up] order, fp32, under every gate_mode / is_shuffled";
  } else if (!is_gate_up(c.kind)) {
    out.note = "gate_mode does not change how down_proj is read";
  }
  const matrix::Combination combo = chain_combination(c, gate_mode, is_shuffled);
  const matrix::DeviceMaps maps{combo, geometry_of(c)};
  if (const auto miss = first_miss(c, maps)) {
    out.consistent = false;
    out.reason = *miss;
    for (const matrix::Scenario& s : scenarios) {
      if (realises(s, c, combo)) out.scenarios.push_back(s);
    }
  }
  return out;
}

}  // namespace mxg::diagnose::weights
