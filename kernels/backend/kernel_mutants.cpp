// The kernel mutants' names and descriptions; host_moe.cpp implements them.
#include "kernels/backend/kernel_mutants.hpp"

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg {

const std::vector<KernelMutantInfo>& kernel_mutants() {
  static const std::vector<KernelMutantInfo> all = {
      {KernelMutant::ZeroOutputInterleave, "zero-output-interleave", "aiter #3586 / vllm #44893",
       "gate_mode interleave dispatches to a kernel that leaves y all zeros"},
      {KernelMutant::InterDimTail256, "inter-dim-tail-256", "aiter #5232",
       "only whole 256-unit blocks of the intermediate units are computed: wrong where the units % 256 != 0 "
       "(384 per rank at tp 8)"},
      {KernelMutant::KPadTailNan, "k-pad-tail-nan", "aiter #3117",
       "the last hidden_pad inputs of the activation tile are never initialised (NaN) and are multiplied "
       "in, against zero padding weights"},
      {KernelMutant::GuguRows, "gugu-rows", "aiter #5549",
       "gate_mode interleave reads gate/up alternating every row (GUGU) instead of every 16 rows (GGUU)"},
      {KernelMutant::ScaleTailOverrun, "scale-tail-overrun", "vllm #47303 / triton #10772",
       "stage 2 of the last expert loads one E8M0 scale past the end of w2_scale (an unmasked tail load) and "
       "multiplies it by a masked-out zero weight: harmless unless that byte is NaN (0xFF)"},
  };
  return all;
}

KernelMutant parse_kernel_mutant(std::string_view name) {
  if (name.empty() || name == "none") return KernelMutant::None;
  std::string names;
  for (const auto& m : kernel_mutants()) {
    if (m.name == name) return m.mutant;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  throw InputError(fmt::format("--kernel-mutant: unknown mutant '{}' (mutants: {})", name, names));
}

std::string_view kernel_mutant_name(KernelMutant m) {
  for (const auto& info : kernel_mutants())
    if (info.mutant == m) return info.name;
  return "none";
}

}  // namespace mxg
