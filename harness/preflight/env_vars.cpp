// Parsing of `--env KEY=VALUE` items and of boolean values.
#include "harness/preflight/env_vars.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::preflight {

namespace {

bool is_variable_name(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
  return std::all_of(key.begin(), key.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

EnvAssignments parse_env_assignments(const std::vector<std::string>& items) {
  EnvAssignments env;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      throw InputError(fmt::format("--env '{}': expected KEY=VALUE (no '=')", item));
    }
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!is_variable_name(key)) {
      throw InputError(fmt::format("--env '{}': key '{}' is not an environment variable name", item, key));
    }
    const auto [it, inserted] = env.emplace(key, value);
    if (!inserted && it->second != value) {
      throw InputError(fmt::format("--env '{}': {} was already given as '{}'", item, key, it->second));
    }
  }
  return env;
}

bool parse_env_bool(std::string_view key, std::string_view value) {
  static constexpr std::array<std::string_view, 4> kTrue = {"true", "1", "yes", "on"};
  static constexpr std::array<std::string_view, 4> kFalse = {"false", "0", "no", "off"};
  const std::string v = lower(value);
  if (std::find(kTrue.begin(), kTrue.end(), v) != kTrue.end()) return true;
  if (std::find(kFalse.begin(), kFalse.end(), v) != kFalse.end()) return false;
  throw InputError(fmt::format("--env {}={}: '{}' is not a boolean (true/1/yes/on or false/0/no/off)", key, value,
                               value));
}

std::optional<std::string> env_value(const EnvAssignments& env, std::string_view key) {
  const auto it = env.find(std::string(key));
  if (it == env.end()) return std::nullopt;
  return it->second;
}

}  // namespace mxg::preflight
