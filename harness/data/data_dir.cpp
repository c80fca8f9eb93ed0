#include "harness/data/data_dir.hpp"

#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::data {

std::filesystem::path executable_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : p;
}

std::vector<std::filesystem::path> candidate_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("MXGUARD_DATA"); env != nullptr && *env != '\0') dirs.emplace_back(env);
  if (auto exe = executable_path(); !exe.empty()) {
    dirs.push_back((exe.parent_path().parent_path() / "share" / "mxguard").lexically_normal());
  }
  return dirs;
}

std::filesystem::path find_data_file(std::string_view relative, std::string_view what_for) {
  std::string tried;
  for (const auto& dir : candidate_dirs()) {
    auto candidate = dir / relative;
    std::error_code ec;
    if (std::filesystem::exists(candidate, ec)) return candidate;
    tried += fmt::format("{}{}", tried.empty() ? "" : ", ", candidate.string());
  }
  throw InputError(fmt::format(
      "{}: mxguard's data file {} was not found (tried: {}); install mxguard with `cmake --install`, "
      "set MXGUARD_DATA to a directory holding cases/, or pass {} explicitly",
      what_for, relative, tried.empty() ? "nothing: /proc/self/exe unreadable and MXGUARD_DATA unset" : tried,
      what_for));
}

}  // namespace mxg::data

namespace mxg::data {

std::string annotation_scenarios(const std::optional<std::string>& given) {
  if (given) return *given;
  try {
    return find_data_file("cases/scenarios.json", "--scenarios").string();
  } catch (const InputError& e) {
    fmt::print(stderr, "warning: named scenarios left out: {}\n", e.what());
    return {};
  }
}

}  // namespace mxg::data
