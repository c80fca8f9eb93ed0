// The reference MoE layer (LAYOUTS.md §3) from canonical checkpoint tensors: per-expert grouped
// GEMMs with Eigen on dequantised weights, SwiGLU (or SiLU) and the routing-weighted sum.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kernels/tensor/tensor.hpp"
#include "reference/moe_config.hpp"
#include "reference/moe_weights.hpp"
#include "reference/routing.hpp"

namespace mxg::ref {

struct ForwardOptions {
  Precision precision = Precision::F32;  // F64: weights, activations and sums in double (gold run)
  int threads = 0;                       // 0 = all hardware threads; the result is the same for any count
  // Weight rows dequantised at a time by one worker (rounded up to even). Bounds the scratch memory
  // (block_rows * max(H, I) scalars per worker) and keeps the block in cache; 0 = default.
  std::int64_t block_rows = 0;
};

inline constexpr std::int64_t kDefaultBlockRows = 64;

// Throws InputError naming `label` unless hidden is a float tensor [T, H] with T >= 1.
void validate_hidden(const Tensor& hidden, const MoeConfig& c, const std::string& label);
// Throws InputError unless the routing is [hidden tokens, c.topk] with ids in [0, c.experts).
void validate_routing(const Routing& r, const MoeConfig& c, std::int64_t tokens, const std::string& label);

// y [T, H]: F32 for Precision::F32, F64 for F64. Inputs must have passed validate_config,
// validate_weights, validate_hidden and validate_routing (run_reference does all of that).
//
// How it is computed, and why the result does not depend on `threads`:
//  - the (token, slot) pairs are grouped by expert (experts ascending, then token, then slot);
//    the hidden rows are gathered into one matrix in that order;
//  - pass 1, one work item per (routed expert, block of w13 rows): dequantise the block, one GEMM
//    with all of that expert's rows, add the bias, apply the activation into A [T*k, I];
//  - pass 2, one item per (routed expert, block of w2 rows = hidden units): dequantise, one GEMM
//    A_e * W2_block^T, add the bias, into O [T*k, H] (each (token, slot) has its own row);
//  - y[t] = sum over slots j = 0..k-1, in that order, of w[t, j] * O[(t, j)].
// Every output element is written by exactly one item with a fixed operation order, and experts
// that received no token are never dequantised.
Tensor moe_forward(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden, const Routing& routing,
                   const ForwardOptions& options);

struct ReferenceResult {
  Tensor y;         // [T, H], F32 or F64 as the precision
  Routing routing;  // computed by the router, or the one given
};

// Validates everything (config, weights, hidden, routing) and runs the layer; routes with the
// layer's router unless `given` is set. Labels in error messages come from weights.labels and
// `hidden_label`.
ReferenceResult run_reference(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden,
                              const std::optional<Routing>& given, const ForwardOptions& options,
                              const std::string& hidden_label = "hidden");

}  // namespace mxg::ref
