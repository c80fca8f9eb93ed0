// The pad conventions of pad_convention.hpp.
#include "kernels/backend/pad_convention.hpp"

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg {

std::string_view pad_convention_name(PadConvention c) {
  return c == PadConvention::Exact ? "exact" : "granule";
}

PadConvention parse_pad_convention(std::string_view s) {
  if (s == "exact") return PadConvention::Exact;
  if (s == "granule") return PadConvention::Granule;
  throw InputError(fmt::format("pad convention: '{}' is not one (expected exact or granule)", s));
}

EffectivePads effective_pads(PadConvention c, std::int64_t hidden_pad, std::int64_t intermediate_pad) {
  if (c == PadConvention::Exact || intermediate_pad < 0) return {hidden_pad, intermediate_pad};
  return {hidden_pad, intermediate_pad / kCkTileStage1UnitGranule * kCkTileStage1UnitGranule};
}

}  // namespace mxg
