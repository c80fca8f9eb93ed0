// The host backend's computation: the fused MoE of LAYOUTS.md §3 read from device layout (§8),
// fp32 accumulation, bf16 output. Exposed for the backend wrapper and the benchmark.
#pragma once

#include "kernels/backend/fused_moe.hpp"

namespace mxg::host {

// y BF16 [T, H], H = H_p - hidden_pad. `threads` >= 1. The problem must already be validated.
// The result is bit-identical for every thread count: each output element is produced by one
// work item with a fixed summation order.
Tensor run_fused_moe(const FusedMoeProblem& p, int threads);

}  // namespace mxg::host
