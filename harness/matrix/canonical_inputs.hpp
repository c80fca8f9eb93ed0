// Seeded generation of one case instance's inputs in the canonical checkpoint layout
// (LAYOUTS.md §2): MXFP4 expert weights for the whole model I, hidden states and a routing.
// The numbers behind each input distribution are derived in cases/README.md ("Inputs").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "harness/matrix/case_spec.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::matrix {

// One E8M0 scale byte of down_scales: [expert][row][block].
struct ScaleSite {
  std::int64_t expert = 0;  // index into the materialised experts
  std::int64_t row = 0;     // hidden unit (output row of the down projection)
  std::int64_t block = 0;   // 32-unit block of the intermediate axis
};

// Only experts that receive tokens are materialised ("compacted"): topk_ids index into the
// materialised experts, and expert_ids maps them back to the model's expert numbers. A kernel's
// per-expert behaviour does not depend on how many experts exist, so this keeps GPT-OSS-120b
// cases to the routed experts' bytes. The one exception is Routing::SomeEmpty, which also
// materialises up to two experts that receive no token, so the kernel meets an empty expert.
struct CanonicalInputs {
  std::vector<std::int64_t> expert_ids;  // model expert number of each materialised expert, increasing
  Tensor gate_up_blocks;   // U8 [E', 2I, H/32, 16], checkpoint (interleaved) row order
  Tensor gate_up_scales;   // U8 [E', 2I, H/32]
  Tensor gate_up_bias;     // F32 [E', 2I], values exactly representable in bf16
  Tensor down_blocks;      // U8 [E', H, I/32, 16]
  Tensor down_scales;      // U8 [E', H, I/32]
  Tensor down_bias;        // F32 [E', H], values exactly representable in bf16
  Tensor hidden;           // F32 [T, H], values exactly representable in bf16
  Tensor topk_ids;         // I32 [T, k], indices into the materialised experts
  Tensor topk_weights;     // F32 [T, k], rows sum to 1
  // InputDist::NanScale: the one down_scales byte set to 255 (NaN). It lies on an expert that
  // receives tokens and inside the shape's TP rank slice, so exactly output row `row` of the
  // tokens routed to `expert` must come out NaN.
  std::optional<ScaleSite> nan_scale;
};

// Deterministic: the same arguments give the same bytes on every platform. Weights of a model
// expert depend only on (seed, expert number, inputs), not on the routing or token count, and
// the first T rows of hidden / routing do not depend on how many tokens follow.
CanonicalInputs generate_inputs(const ShapeSpec& shape, std::int64_t tokens, Routing routing,
                                InputDist inputs, std::uint64_t seed);

}  // namespace mxg::matrix
