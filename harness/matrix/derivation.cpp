// The derivation of expected outcomes: element-by-element comparison of the loader's placement
// and the kernel's read, both built only from kernels/layout/index_maps.hpp.
#include "harness/matrix/derivation.hpp"

#include <fmt/format.h>

#include "kernels/format/mxfp4.hpp"
#include "kernels/backend/kernel_extents.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::matrix {

namespace lm = mxg::layout;

namespace {
bool rows_deinterleaved(Prep p) { return p != Prep::Interleaved; }
bool scales_deinterleaved(Prep p) { return p == Prep::Deinterleaved || p == Prep::DeinterleavedBiasInterleaved; }
bool bias_deinterleaved(Prep p) { return p == Prep::Deinterleaved || p == Prep::DeinterleavedScalesInterleaved; }
}  // namespace

std::int64_t DeviceMaps::w13_scale_cols() const {
  const std::int64_t cols = g.hidden_padded / mxfp4::kBlock;
  return combo.scale_shuffle == ScaleShuffle::None ? cols : lm::round_up(cols, 8);
}
std::int64_t DeviceMaps::w2_scale_cols() const {
  const std::int64_t cols = g.intermediate_padded / mxfp4::kBlock;
  return combo.scale_shuffle == ScaleShuffle::None ? cols : lm::round_up(cols, 8);
}

std::int64_t DeviceMaps::placed_w13(std::int64_t e, std::int64_t row, std::int64_t byte) const {
  const std::int64_t rows = 2 * g.intermediate_padded, kb = w13_row_bytes();
  const std::int64_t r = rows_deinterleaved(combo.prep) ? lm::deinterleave_row(row, rows) : row;
  std::int64_t within = 0;
  switch (combo.weight_shuffle) {
    case WeightShuffle::None: within = r * kb + byte; break;
    case WeightShuffle::SeparatedTiles: within = lm::tile_shuffle_offset(r, byte, kb); break;
    case WeightShuffle::InterleavedTiles:
      within = lm::tile_shuffle_offset(lm::block_interleave_row(r, rows), byte, kb);
      break;
  }
  return e * rows * kb + within;
}

std::int64_t DeviceMaps::placed_w13_scale(std::int64_t e, std::int64_t row, std::int64_t col) const {
  const std::int64_t rows = 2 * g.intermediate_padded, cols = w13_scale_cols();
  const std::int64_t r = scales_deinterleaved(combo.prep) ? lm::deinterleave_row(row, rows) : row;
  switch (combo.scale_shuffle) {
    case ScaleShuffle::None: return (e * rows + r) * cols + col;
    case ScaleShuffle::Separated: return lm::scale_shuffle_offset(e * rows + r, col, cols);
    case ScaleShuffle::Interleaved:
      return e * rows * cols + lm::scale_shuffle_offset(lm::block_interleave_row(r, rows), col, cols);
  }
  return -1;
}

std::int64_t DeviceMaps::placed_w13_bias(std::int64_t row) const {
  return bias_deinterleaved(combo.prep) ? lm::deinterleave_row(row, 2 * g.intermediate_padded) : row;
}

std::int64_t DeviceMaps::placed_w2(std::int64_t e, std::int64_t row, std::int64_t byte) const {
  // w2 is never de-interleaved; both shuffle families tile it identically (gate_up = false).
  const std::int64_t kb = w2_row_bytes();
  const std::int64_t within =
      combo.weight_shuffle == WeightShuffle::None ? row * kb + byte : lm::tile_shuffle_offset(row, byte, kb);
  return e * g.hidden_padded * kb + within;
}

std::int64_t DeviceMaps::placed_w2_scale(std::int64_t e, std::int64_t row, std::int64_t col) const {
  const std::int64_t cols = w2_scale_cols(), global_row = e * g.hidden_padded + row;
  return combo.scale_shuffle == ScaleShuffle::None ? global_row * cols + col
                                                   : lm::scale_shuffle_offset(global_row, col, cols);
}

namespace {
// Logical w13 row the kernel uses for gate/up of unit j (LAYOUTS.md §8).
std::int64_t kernel_row(GateMode mode, std::int64_t unit, int half, std::int64_t i_p) {
  const std::int64_t separated = half * i_p + unit;
  return mode == GateMode::Separated ? separated : lm::block_interleave_row(separated, 2 * i_p);
}
}  // namespace

std::int64_t DeviceMaps::read_w13(std::int64_t e, std::int64_t unit, int half, std::int64_t byte) const {
  const std::int64_t rows = 2 * g.intermediate_padded, kb = w13_row_bytes();
  const std::int64_t r = kernel_row(combo.gate_mode, unit, half, g.intermediate_padded);
  return e * rows * kb + (combo.is_shuffled ? lm::tile_shuffle_offset(r, byte, kb) : r * kb + byte);
}

std::int64_t DeviceMaps::read_w13_scale(std::int64_t e, std::int64_t unit, int half, std::int64_t col) const {
  const std::int64_t rows = 2 * g.intermediate_padded, cols = w13_scale_cols();
  const std::int64_t global_row = e * rows + kernel_row(combo.gate_mode, unit, half, g.intermediate_padded);
  return combo.is_shuffled ? lm::scale_shuffle_offset(global_row, col, cols) : global_row * cols + col;
}

std::int64_t DeviceMaps::read_w13_bias(std::int64_t unit, int half) const {
  return half * g.intermediate_padded + unit;  // [gate | up] in both gate modes
}

std::int64_t DeviceMaps::read_w2(std::int64_t e, std::int64_t row, std::int64_t byte) const {
  const std::int64_t kb = w2_row_bytes();
  return e * g.hidden_padded * kb + (combo.is_shuffled ? lm::tile_shuffle_offset(row, byte, kb) : row * kb + byte);
}

std::int64_t DeviceMaps::read_w2_scale(std::int64_t e, std::int64_t row, std::int64_t col) const {
  const std::int64_t cols = w2_scale_cols(), global_row = e * g.hidden_padded + row;
  return combo.is_shuffled ? lm::scale_shuffle_offset(global_row, col, cols) : global_row * cols + col;
}

namespace {
const char* half_name(int half) { return half == 0 ? "gate" : "up"; }
}  // namespace

std::int64_t kernel_units(const Combination& combo, const Geometry& g, PadConvention convention) {
  return kernel_extents(convention, g.hidden_padded, g.intermediate_padded, g.hidden_pad(),
                        g.stated_intermediate_pad(combo.padding))
      .units;
}

Derivation derive(const Combination& combo, const Geometry& g, PadConvention convention) {
  const DeviceMaps m{combo, g};
  const std::int64_t used_units = kernel_units(combo, g, convention);
  const std::int64_t used_w13_bytes = (g.hidden_padded - g.hidden_pad()) / 2;
  const std::int64_t used_w13_cols = lm::ceil_div(g.hidden_padded - g.hidden_pad(), mxfp4::kBlock);
  const std::int64_t used_w2_bytes = used_units / 2;
  const std::int64_t used_w2_cols = lm::ceil_div(used_units, mxfp4::kBlock);

  if (used_units < g.loaded_units) {
    return {false, fmt::format("intermediate_pad = {} leaves {} units{} but the loader filled {}: units {}..{} are "
                               "never read",
                               g.stated_intermediate_pad(combo.padding), used_units,
                               convention == PadConvention::Exact ? "" : " (granule pad convention)", g.loaded_units,
                               used_units, g.loaded_units - 1)};
  }
  // Both ends of the expert range: a per-expert map that is right for expert 0 but wrong
  // further on (a global scale row, say) shows at the last expert.
  const std::int64_t experts[] = {0, g.experts - 1};
  for (std::int64_t e : experts) {
    for (std::int64_t j = 0; j < used_units; ++j) {
      for (int h = 0; h < 2; ++h) {
        const std::int64_t checkpoint_row = 2 * j + h;
        for (std::int64_t c = 0; c < used_w13_bytes; ++c) {
          const auto read = m.read_w13(e, j, h, c), placed = m.placed_w13(e, checkpoint_row, c);
          if (read != placed) {
            return {false, fmt::format("w13 weights: expert {}, {} unit {}, byte {}: kernel reads offset {}, the "
                                       "loader put it at offset {}",
                                       e, half_name(h), j, c, read, placed)};
          }
        }
        for (std::int64_t col = 0; col < used_w13_cols; ++col) {
          const auto read = m.read_w13_scale(e, j, h, col), placed = m.placed_w13_scale(e, checkpoint_row, col);
          if (read != placed) {
            return {false, fmt::format("w13 scales: expert {}, {} unit {}, block {}: kernel reads offset {}, the "
                                       "loader put it at offset {}",
                                       e, half_name(h), j, col, read, placed)};
          }
        }
        if (m.read_w13_bias(j, h) != m.placed_w13_bias(checkpoint_row)) {
          return {false, fmt::format("w13 bias: {} unit {}: kernel reads element {}, the loader put it at {}",
                                     half_name(h), j, m.read_w13_bias(j, h), m.placed_w13_bias(checkpoint_row))};
        }
      }
    }
    for (std::int64_t r = 0; r < g.hidden; ++r) {
      for (std::int64_t c = 0; c < used_w2_bytes; ++c) {
        if (m.read_w2(e, r, c) != m.placed_w2(e, r, c)) {
          return {false, fmt::format("w2 weights: expert {}, row {}, byte {}: kernel reads offset {}, the loader "
                                     "put it at offset {}",
                                     e, r, c, m.read_w2(e, r, c), m.placed_w2(e, r, c))};
        }
      }
      for (std::int64_t col = 0; col < used_w2_cols; ++col) {
        if (m.read_w2_scale(e, r, col) != m.placed_w2_scale(e, r, col)) {
          return {false, fmt::format("w2 scales: expert {}, row {}, block {}: kernel reads offset {}, the loader "
                                     "put it at offset {}",
                                     e, r, col, m.read_w2_scale(e, r, col), m.placed_w2_scale(e, r, col))};
        }
      }
    }
  }
  return {true, {}};
}

}  // namespace mxg::matrix
