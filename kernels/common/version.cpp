#include "kernels/common/version.hpp"

namespace mxg {

// MXG_VERSION is defined for this file alone (kernels/common/CMakeLists.txt), so a version bump
// recompiles one file.
std::string_view mxguard_version() { return MXG_VERSION; }

}  // namespace mxg
