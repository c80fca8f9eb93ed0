// Seeded generation of one case instance's inputs in the canonical checkpoint layout
// (LAYOUTS.md §2): MXFP4 expert weights for the whole model I, hidden states and a routing.
#pragma once

#include <cstdint>
#include <vector>

#include "harness/matrix/case_spec.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::matrix {

// Only experts that receive tokens are materialised ("compacted"): topk_ids index into the
// materialised experts, and expert_ids maps them back to the model's expert numbers. A kernel's
// per-expert behaviour does not depend on how many experts exist, so this keeps GPT-OSS-120b
// cases to the routed experts' bytes.
struct CanonicalInputs {
  std::vector<std::int64_t> expert_ids;  // model expert number of each materialised expert
  Tensor gate_up_blocks;   // U8 [E', 2I, H/32, 16], checkpoint (interleaved) row order
  Tensor gate_up_scales;   // U8 [E', 2I, H/32]
  Tensor gate_up_bias;     // F32 [E', 2I]
  Tensor down_blocks;      // U8 [E', H, I/32, 16]
  Tensor down_scales;      // U8 [E', H, I/32]
  Tensor down_bias;        // F32 [E', H]
  Tensor hidden;           // F32 [T, H], values exactly representable in bf16
  Tensor topk_ids;         // I32 [T, k], indices into the materialised experts
  Tensor topk_weights;     // F32 [T, k], rows sum to 1
};

CanonicalInputs generate_inputs(const ShapeSpec& shape, std::int64_t tokens, Routing routing,
                                InputDist inputs, std::uint64_t seed);

}  // namespace mxg::matrix
