// Names, ids and expansion of the matrix dimensions.
#include "harness/matrix/dimensions.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::matrix {

std::string_view name(Prep v) {
  switch (v) {
    case Prep::Interleaved: return "interleaved";
    case Prep::Deinterleaved: return "deinterleaved";
    case Prep::DeinterleavedBiasInterleaved: return "deinterleaved-bias-interleaved";
    case Prep::DeinterleavedScalesInterleaved: return "deinterleaved-scales-interleaved";
  }
  return "?";
}
std::string_view name(WeightShuffle v) {
  switch (v) {
    case WeightShuffle::None: return "none";
    case WeightShuffle::SeparatedTiles: return "separated-tiles";
    case WeightShuffle::InterleavedTiles: return "interleaved-tiles";
  }
  return "?";
}
std::string_view name(ScaleShuffle v) {
  switch (v) {
    case ScaleShuffle::None: return "none";
    case ScaleShuffle::Separated: return "separated";
    case ScaleShuffle::Interleaved: return "interleaved";
  }
  return "?";
}
std::string_view name(Padding v) {
  switch (v) {
    case Padding::Correct: return "correct";
    case Padding::FromIOverTp: return "from-i-over-tp";
  }
  return "?";
}

namespace {
constexpr Prep kPreps[] = {Prep::Interleaved, Prep::Deinterleaved, Prep::DeinterleavedBiasInterleaved,
                           Prep::DeinterleavedScalesInterleaved};
constexpr WeightShuffle kWeightShuffles[] = {WeightShuffle::None, WeightShuffle::SeparatedTiles,
                                             WeightShuffle::InterleavedTiles};
constexpr ScaleShuffle kScaleShuffles[] = {ScaleShuffle::None, ScaleShuffle::Separated, ScaleShuffle::Interleaved};
constexpr bool kFlags[] = {true, false};
constexpr GateMode kGateModes[] = {GateMode::Separated, GateMode::Interleave};
constexpr Padding kPaddings[] = {Padding::Correct, Padding::FromIOverTp};

std::string flag_name(bool v) { return v ? "true" : "false"; }

template <class T, std::size_t N, class NameFn>
std::vector<T> select(std::string_view dimension, const T (&all)[N], NameFn value_name,
                      const std::map<std::string, std::vector<std::string>>& allowed) {
  auto it = allowed.find(std::string(dimension));
  if (it == allowed.end()) return std::vector<T>(std::begin(all), std::end(all));
  std::vector<T> out;
  for (const auto& want : it->second) {
    auto match = std::find_if(std::begin(all), std::end(all), [&](T v) { return value_name(v) == want; });
    if (match == std::end(all)) {
      throw InputError(fmt::format("dimension '{}': unknown value '{}' (values: {})", dimension, want,
                                   fmt::join(dimension_values(dimension), ", ")));
    }
    if (std::find(out.begin(), out.end(), *match) == out.end()) out.push_back(*match);
  }
  return out;
}
}  // namespace

std::vector<std::string> dimension_values(std::string_view d) {
  std::vector<std::string> out;
  if (d == "prep") for (auto v : kPreps) out.emplace_back(name(v));
  if (d == "weight_shuffle") for (auto v : kWeightShuffles) out.emplace_back(name(v));
  if (d == "scale_shuffle") for (auto v : kScaleShuffles) out.emplace_back(name(v));
  if (d == "is_shuffled") for (auto v : kFlags) out.emplace_back(flag_name(v));
  if (d == "gate_mode") for (auto v : kGateModes) out.emplace_back(gate_mode_name(v));
  if (d == "padding") for (auto v : kPaddings) out.emplace_back(name(v));
  return out;
}

std::map<std::string, std::string> dimension_map(const Combination& c) {
  return {{"prep", std::string(name(c.prep))},
          {"weight_shuffle", std::string(name(c.weight_shuffle))},
          {"scale_shuffle", std::string(name(c.scale_shuffle))},
          {"is_shuffled", flag_name(c.is_shuffled)},
          {"gate_mode", std::string(gate_mode_name(c.gate_mode))},
          {"padding", std::string(name(c.padding))}};
}

std::string combination_id(const Combination& c) {
  return fmt::format("prep={}/wshuf={}/sshuf={}/flag={}/gate={}/pad={}", name(c.prep), name(c.weight_shuffle),
                     name(c.scale_shuffle), c.is_shuffled ? 1 : 0, gate_mode_name(c.gate_mode), name(c.padding));
}

std::vector<Combination> expand_combinations(const std::map<std::string, std::vector<std::string>>& allowed) {
  for (const auto& [dimension, values] : allowed) {
    if (dimension_values(dimension).empty()) {
      throw InputError(fmt::format("unknown dimension '{}' (dimensions: {})", dimension,
                                   fmt::join(kDimensionNames, ", ")));
    }
  }
  const auto preps = select("prep", kPreps, [](Prep v) { return std::string(name(v)); }, allowed);
  const auto wshufs = select("weight_shuffle", kWeightShuffles, [](WeightShuffle v) { return std::string(name(v)); }, allowed);
  const auto sshufs = select("scale_shuffle", kScaleShuffles, [](ScaleShuffle v) { return std::string(name(v)); }, allowed);
  const auto flags = select("is_shuffled", kFlags, flag_name, allowed);
  const auto gates = select("gate_mode", kGateModes, [](GateMode v) { return std::string(gate_mode_name(v)); }, allowed);
  const auto pads = select("padding", kPaddings, [](Padding v) { return std::string(name(v)); }, allowed);
  std::vector<Combination> out;
  for (auto p : preps)
    for (auto w : wshufs)
      for (auto s : sshufs)
        for (auto f : flags)
          for (auto g : gates)
            for (auto pad : pads) out.push_back({p, w, s, f, g, pad});
  return out;
}

}  // namespace mxg::matrix
