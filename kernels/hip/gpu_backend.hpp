// The "hip" fused-MoE backend: runs a FusedMoeProblem on the GPU with the kernels of fused_moe.hip
// (built by hipcc for AMD or nvcc for NVIDIA). Registered through kernels/backend/gpu_hook.hpp.
#pragma once

#include <memory>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/hip/moe_launch.hpp"

namespace mxg::gpu {

inline constexpr const char* kGpuBackendName = "hip";

// InfraError when no GPU is visible. `family` pins the kernels (tests); Auto picks by shape.
std::unique_ptr<FusedMoeBackend> make_gpu_backend(const BackendOptions& options,
                                                  KernelFamily family = KernelFamily::Auto);

// The launch shape of a validated problem.
MoeShape moe_shape(const FusedMoeProblem& p);

}  // namespace mxg::gpu
