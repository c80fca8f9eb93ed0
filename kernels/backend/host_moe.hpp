// The host backend's computation: the fused MoE of LAYOUTS.md §3 read from device layout (§8),
// fp32 accumulation, bf16 output. Exposed for the backend wrapper and the benchmark.
#pragma once

#include "kernels/backend/fused_moe.hpp"
#include "kernels/backend/kernel_mutants.hpp"

namespace mxg::host {

// y BF16 [T, H], H = H_p - hidden_pad. `threads` >= 1. The problem must already be validated.
// The result is bit-identical for every thread count: each output element is produced by one
// work item with a fixed summation order. `mutant` builds one incident's bug into the kernel
// (kernel_mutants.hpp); scale-tail-overrun reads one byte past w2_scale, so it needs the guard
// zones the host backend allocates (guard_zones.hpp).
Tensor run_fused_moe(const FusedMoeProblem& p, int threads, KernelMutant mutant = KernelMutant::None);

}  // namespace mxg::host
