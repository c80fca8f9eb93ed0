// Registrations of the backends compiled into mxg_backends itself, collected by the registry.
#pragma once

#include "kernels/backend/fused_moe.hpp"

namespace mxg {

BackendRegistration host_backend_registration();      // host_backend.cpp
BackendRegistration external_backend_registration();  // external_backend.cpp

}  // namespace mxg
