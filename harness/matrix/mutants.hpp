// Built-in kernel mutants (`mxguard matrix --mutants`): small, realistic read bugs injected into a
// combination's device buffers as the kernel would see them, so the matrix's own sensitivity can
// be scored. Each mutation is expressed through the combination's kernel read map (DeviceMaps),
// so it means the same thing in every layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/matrix/derivation.hpp"
#include "kernels/backend/fused_moe.hpp"

namespace mxg::matrix {

struct Mutant {
  std::string name;
  std::string description;
};

const std::vector<Mutant>& builtin_mutants();

// Applies mutant `name` to `p` (prepared for `maps.combo`), targeting materialised expert `expert`.
void apply_mutant(const std::string& name, const DeviceMaps& maps, std::int64_t expert, FusedMoeProblem& p);

}  // namespace mxg::matrix

#include "reports/result.hpp"

namespace mxg::matrix {
// One MutantResult per built-in mutant: killed when some mutated combination was measured to
// mismatch (verdict CAUGHT); a mutant that ran nowhere counts as not killed.
std::vector<report::MutantResult> score_mutants(const std::vector<report::CombinationResult>& results);
}  // namespace mxg::matrix
