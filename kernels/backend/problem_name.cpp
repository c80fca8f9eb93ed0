// Combination id -> problem file name (problem_name.hpp).
#include "kernels/backend/problem_name.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "kernels/common/fnv1a.hpp"

namespace mxg {
namespace {

bool kept_as_is(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '=' || c == ',' || c == '+' || c == '-';
}

}  // namespace

std::string problem_file_stem(std::string_view id) {
  if (id.empty()) return "problem";
  std::string stem;
  stem.reserve(id.size());
  for (char c : id) stem += c == '/' ? '~' : kept_as_is(c) ? c : '_';
  // A leading '.' or '-' would make a hidden file or an option-looking argument.
  if (stem.front() == '.' || stem.front() == '-') stem.front() = '_';
  constexpr std::string_view kSuffix = ".safetensors";
  const std::size_t room = kMaxNameBytes - kSuffix.size();
  if (stem.size() > room) {
    // Collisions only matter among ids sharing a long head.
    const std::string tail = fmt::format("~{:016x}", fnv1a64(id));
    stem.resize(room - tail.size());
    stem += tail;
  }
  return stem;
}

std::string problem_file_name(std::string_view id) { return problem_file_stem(id) + ".safetensors"; }

}  // namespace mxg
