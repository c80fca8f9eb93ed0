// Does the kernel, told (gate_mode, is_shuffled), read the checkpoint back from the layout a chain
// produced? The matrix's expectation rules (harness/matrix/derivation.hpp DeviceMaps: where the
// loader put each element, where the kernel reads it) applied to the one tensor diagnosed, plus the
// named historical scenarios (cases/scenarios.json) that layout + flags realise.
#pragma once

#include <string>
#include <vector>

#include "harness/diagnose/weights/chain.hpp"
#include "harness/matrix/dimensions.hpp"
#include "harness/matrix/scenarios.hpp"

namespace mxg::diagnose::weights {

struct KernelRead {
  bool consistent = true;
  std::string reason;  // first element the kernel misses, as derive() words it
  std::vector<matrix::Scenario> scenarios;  // realised bug scenarios (only when inconsistent)
  std::string note;    // e.g. "gate_mode does not change how down_proj is read"
};

// The matrix Combination this chain realises for its own tensor (the other tensors' dimensions
// are set to the consistent choice for the flags, and ignored).
matrix::Combination chain_combination(const Chain& chain, GateMode gate_mode, bool is_shuffled);

KernelRead check_kernel_read(const Chain& chain, GateMode gate_mode, bool is_shuffled,
                             const std::vector<matrix::Scenario>& scenarios);

}  // namespace mxg::diagnose::weights
