// The pad conventions of pad_convention.hpp.
#include "kernels/backend/pad_convention.hpp"

#include <fmt/format.h>

#include "kernels/backend/kernel_extents.hpp"
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

KernelExtents kernel_extents(PadConvention c, std::int64_t hidden_padded, std::int64_t intermediate_padded,
                             std::int64_t hidden_pad, std::int64_t intermediate_pad) {
  if (c == PadConvention::Exact) {
    return {hidden_padded - hidden_pad, intermediate_padded - intermediate_pad, intermediate_padded - intermediate_pad,
            hidden_padded - hidden_pad};
  }
  auto down = [](std::int64_t v, std::int64_t granule) { return v / granule * granule; };
  return {hidden_padded - down(hidden_pad, kCkTileStage1InputGranule),
          intermediate_padded - down(intermediate_pad, kCkTileStage1UnitGranule),
          intermediate_padded - down(intermediate_pad, kCkTileStage2UnitGranule),
          hidden_padded - down(hidden_pad, kCkTileStage2OutputGranule)};
}

}  // namespace mxg
