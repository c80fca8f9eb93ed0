// The two AITER tile layouts (LAYOUTS.md §6–§7) and the options both shuffles take.
#pragma once

#include <cstdint>
#include <string_view>

namespace mxg::layout {

enum class TileMode : std::uint8_t {
  separated,    // is_guinterleave = false: gate_up is ignored
  interleaved,  // is_guinterleave = true: with gate_up, 16-row gate/up blocks alternate first
};

struct ShuffleOptions {
  TileMode mode = TileMode::separated;
  bool gate_up = false;  // the tensor is w13 in [gate | up] halves (w2: false)
  // The 16-row block interleave of §6 applies only to interleaved tiles with gate_up.
  bool block_interleaves() const { return mode == TileMode::interleaved && gate_up; }
};

constexpr std::string_view tile_mode_name(TileMode m) {
  return m == TileMode::separated ? "separated" : "interleaved";
}

}  // namespace mxg::layout
