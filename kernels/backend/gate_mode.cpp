// Printable names of the gate modes and their parser.
#include <fmt/format.h>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/common/errors.hpp"

namespace mxg {

std::string_view gate_mode_name(GateMode m) {
  switch (m) {
    case GateMode::Separated:
      return "separated";
    case GateMode::Interleave:
      return "interleave";
  }
  return "unknown";
}

GateMode parse_gate_mode(std::string_view s) {
  if (s == "separated") return GateMode::Separated;
  if (s == "interleave") return GateMode::Interleave;
  throw InputError(fmt::format("gate_mode: '{}' is not a gate mode (expected separated or interleave)", s));
}

}  // namespace mxg
