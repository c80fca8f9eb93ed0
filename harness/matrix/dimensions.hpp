// The matrix dimensions of DESIGN.md as named enums: how the loader prepared w13, which weight
// and scale shuffle ran, what the dispatcher told the kernel (is_shuffled, gate mode) and how
// intermediate_pad was computed. One Combination is one point of their product.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/backend/fused_moe.hpp"

namespace mxg::matrix {

// What the loader did to w13 rows before shuffling (weights, scales, bias).
enum class Prep : std::uint8_t {
  Interleaved,                    // checkpoint order g0,u0,g1,u1,... everywhere
  Deinterleaved,                  // [gate | up] for weights, scales and bias
  DeinterleavedBiasInterleaved,   // weights and scales de-interleaved, bias left interleaved
  DeinterleavedScalesInterleaved, // weights and bias de-interleaved, scales left interleaved
};
enum class WeightShuffle : std::uint8_t { None, SeparatedTiles, InterleavedTiles };
enum class ScaleShuffle : std::uint8_t { None, Separated, Interleaved };
// How intermediate_pad was computed: from the units actually loaded (I_p - loaded) or from
// I/tp while the loader filled more units (the TP >= 4 bug class of LAYOUTS.md §4).
enum class Padding : std::uint8_t { Correct, FromIOverTp };

struct Combination {
  Prep prep = Prep::Deinterleaved;
  WeightShuffle weight_shuffle = WeightShuffle::None;
  ScaleShuffle scale_shuffle = ScaleShuffle::None;
  bool is_shuffled = false;
  GateMode gate_mode = GateMode::Separated;
  Padding padding = Padding::Correct;

  bool operator==(const Combination&) const = default;
};

std::string_view name(Prep v);
std::string_view name(WeightShuffle v);
std::string_view name(ScaleShuffle v);
std::string_view name(Padding v);

// Dimension names as they appear in case files, ids and reports, in id order.
inline constexpr const char* kDimensionNames[] = {"prep", "weight_shuffle", "scale_shuffle",
                                                  "is_shuffled", "gate_mode", "padding"};
// Every value of a dimension, as strings (for schema checks and --list).
std::vector<std::string> dimension_values(std::string_view dimension);

// Dimension -> value strings of one combination, and its id fragment
// "prep=deinterleaved/wshuf=separated-tiles/sshuf=separated/flag=1/gate=separated/pad=correct".
std::map<std::string, std::string> dimension_map(const Combination& c);
std::string combination_id(const Combination& c);

// The full product, restricted to the values `allowed` lists (dimension -> values; absent = all).
// Throws InputError for an unknown dimension or value.
std::vector<Combination> expand_combinations(const std::map<std::string, std::vector<std::string>>& allowed);

}  // namespace mxg::matrix
