// The known-bad rules preflight applies to a predicted SGLang plan, each with its reason, plus
// warnings for what cannot be checked statically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/matrix/scenarios.hpp"
#include "harness/preflight/sglang_plan.hpp"

namespace mxg::preflight {

enum class Severity : std::uint8_t { Bad, Warning };

struct Finding {
  Severity severity = Severity::Bad;
  std::string rule;     // "layout-mismatch", "separated-at-tp", "intermediate-pad-drops-units", "unverified"
  std::string message;  // one line: what goes wrong and why
};

struct Verdict {
  std::vector<Finding> findings;  // bad ones first, in rule order, then warnings
  std::vector<std::string> scenarios;  // named historical scenarios (cases/scenarios.json) the plan realises
  bool bad() const;
  bool warned() const;  // a hazard that depends on something preflight cannot see (a WARN line)
};

// Rules:
//  layout-mismatch               the kernel's read for (is_shuffled, gate mode) does not recover the
//                                loader's bytes (harness/matrix/derivation: LAYOUTS.md §8 consistency)
//  separated-at-tp               gate mode separated with MoE tp >= 2: the FlyDSL fp4x2 separated kernel
//                                bug of sgl-project/sglang#27201 (GSM8K ~0.04)
//  intermediate-pad-drops-units  some rank loaded more units than the kernel computes for the stated
//                                intermediate_pad in the kernel's pad convention (LAYOUTS.md §4); with the
//                                convention unknown, only when both conventions drop units
// Warnings with a rule (WARN, exit 0):
//  intermediate-pad-kernel-dependent  units dropped by an exact-pad kernel (AITER FlyDSL) but not by a
//                                granule one (CK-tile): AITER's dispatcher decides, mxguard cannot see it
// `scenarios` (may be empty) name the matching historical scenarios.
Verdict check_plan(const Plan& plan, const std::vector<matrix::Scenario>& scenarios = {});

}  // namespace mxg::preflight
