// Checks a ggml-family problem against the contract of ggml_experts.hpp before any byte reaches
// ggml, whose own checks abort the process: here a malformed problem is a one-line InputError.
// Free of ggml, so it builds (and is tested) whether or not the ggml source is present.
#pragma once

#include <cstdint>

#include "kernels/ggml/ggml_experts.hpp"

namespace mxg::ggml_family {

// The sizes a valid problem implies.
struct GgmlMoeDims {
  std::int64_t tokens = 0;        // T
  std::int64_t hidden = 0;        // H
  std::int64_t intermediate = 0;  // I
  std::int64_t experts = 0;       // E
  std::int64_t topk = 0;          // k
};

// Every shape, dtype and value the contract constrains: hidden F32 [T, H] with H a positive
// multiple of 32; either gate and up (U8 [E, I, H/32*17], I a positive multiple of 32) or
// gate_up (U8 [E, 2I, H/32*17]), never both; down U8 [E, H, I/32*17]; the matching F32 biases;
// topk_ids I32 [T, k] with every id in [0, E); topk_weights F32 [T, k]; a finite alpha and a
// positive finite swiglu_limit. Throws InputError ("ggml problem: <field>: <what>") on the first
// violation.
GgmlMoeDims validate_ggml_problem(const GgmlMoeProblem& problem);

}  // namespace mxg::ggml_family
