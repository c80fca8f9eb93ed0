// File names for one combination's problem file, derived from its result id, so that a wrapped
// command that keeps its input (`cp {in} keep/`) keeps one file per combination, and a kept file
// says which combination it was.
#pragma once

#include <string>
#include <string_view>

namespace mxg {

// "small-a/tp1/T=16/.../pad=none" -> "small-a~tp1~T=16~...~pad=none.safetensors": '/' becomes '~',
// any byte outside [A-Za-z0-9._=,+-] becomes '_'. A name that would exceed kMaxNameBytes keeps its
// head and ends in a hash of the whole id, so distinct ids keep distinct names. Empty id -> "problem".
inline constexpr std::size_t kMaxNameBytes = 200;
std::string problem_file_stem(std::string_view id);
std::string problem_file_name(std::string_view id);  // stem + ".safetensors"

}  // namespace mxg
