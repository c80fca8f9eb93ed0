// mxguard's own version: PROJECT_VERSION of the top-level CMakeLists.txt, the one place it is set.
// Reports record it bare ("0.1.0"); `mxguard --version` and printers add the name.
#pragma once

#include <string_view>

namespace mxg {

std::string_view mxguard_version();

}  // namespace mxg
