// The `external` backend: hands the problem to a user command through files
// (kernels/backend/EXTERNAL_PROTOCOL.md), for kernels mxguard cannot link (AITER is Python/JIT).
#pragma once

#include <string>
#include <string_view>

namespace mxg {

// The command line for one run: every {in} and {out} in `command_template` replaced by the
// shell-quoted paths. InputError when the template lacks either placeholder.
std::string substitute_command(std::string_view command_template, std::string_view in_path, std::string_view out_path);

}  // namespace mxg
