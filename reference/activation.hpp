// The gated activations of the reference, one (gate, up) pair at a time (LAYOUTS.md §3 step 2).
#pragma once

#include <cmath>

#include "reference/moe_config.hpp"

namespace mxg::ref {

template <class S>
S sigmoid(S x) {
  return S(1) / (S(1) + std::exp(-x));
}

// Comparisons are written so that NaN passes through the clamps (std::min/clamp would drop it
// depending on argument order), matching torch.clamp.
template <class S>
S gated_activation(Activation kind, S gate, S up, S limit, S alpha) {
  if (kind == Activation::Silu) return gate * sigmoid(gate) * up;
  gate = gate > limit ? limit : gate;
  up = up > limit ? limit : (up < -limit ? -limit : up);
  // (up + 1) * (gate * sigmoid(alpha * gate)): the product order of transformers' GPT-OSS MLP.
  return (up + S(1)) * (gate * sigmoid(alpha * gate));
}

}  // namespace mxg::ref
