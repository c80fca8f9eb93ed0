// The one seam between mxg_backends and the GPU backends: kernels/hip (target mxg_gpu_backend,
// built only when MXG_GPU != off) defines this function, and the registry calls it once. When
// no GPU library is built, nothing declares or calls it, so no stub exists.
#pragma once

#include <vector>

#include "kernels/backend/fused_moe.hpp"

namespace mxg {

// Every backend the GPU library provides (e.g. "hip"). Called once, before the registry is
// first used; it must not call register_backend itself.
std::vector<BackendRegistration> gpu_backend_registrations();

}  // namespace mxg
