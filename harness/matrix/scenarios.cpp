// Loading and matching of named scenarios.
#include "harness/matrix/scenarios.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/matrix/ggml/ggml_combination.hpp"
#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::matrix {

namespace {
[[noreturn]] void fail(const std::filesystem::path& file, const std::string& pointer, const std::string& what) {
  throw InputError(fmt::format("{}: {}: {}", file.string(), pointer, what));
}
std::string string_at(const nlohmann::json& j, const char* key, const std::filesystem::path& file,
                      const std::string& pointer) {
  if (!j.contains(key)) fail(file, pointer, fmt::format("missing \"{}\"", key));
  if (!j.at(key).is_string()) fail(file, pointer + "/" + key, fmt::format("expected a string, found {}", json_read::show(j.at(key))));
  return j.at(key).get<std::string>();
}
}  // namespace

std::vector<Scenario> load_scenarios(const std::filesystem::path& path) {
  const nlohmann::json doc = json_read::parse_file(path.string());
  if (!doc.is_object() || !doc.contains("scenarios") || !doc["scenarios"].is_array())
    fail(path, "", "expected an object with a \"scenarios\" array");
  std::vector<Scenario> out;
  for (std::size_t i = 0; i < doc["scenarios"].size(); ++i) {
    const auto& s = doc["scenarios"][i];
    const std::string ptr = fmt::format("/scenarios/{}", i);
    if (!s.is_object()) fail(path, ptr, "expected an object");
    for (const auto& [key, value] : s.items()) {
      if (key != "name" && key != "comment" && key != "family" && key != "match" && key != "only_where")
        fail(path, ptr + "/" + key, "unknown key (keys: name, comment, family, match, only_where)");
    }
    Scenario sc{string_at(s, "name", path, ptr), string_at(s, "comment", path, ptr), "aiter", {}, false};
    if (s.contains("family")) {
      sc.family = string_at(s, "family", path, ptr);
      if (sc.family != "aiter" && sc.family != "ggml")
        fail(path, ptr + "/family", fmt::format("expected \"aiter\" or \"ggml\", found \"{}\"", sc.family));
    }
    if (!s.contains("match") || !s["match"].is_object()) fail(path, ptr + "/match", "expected an object");
    for (const auto& [dim, value] : s["match"].items()) {
      const auto values = sc.family == "ggml" ? ggml::dimension_values(dim) : dimension_values(dim);
      if (values.empty()) fail(path, ptr + "/match/" + dim, "unknown dimension");
      if (!value.is_string() || std::find(values.begin(), values.end(), value.get<std::string>()) == values.end())
        fail(path, ptr + "/match/" + dim,
             fmt::format("expected one of {}, found {}", fmt::join(values, ", "), json_read::show(value)));
      sc.match[dim] = value.get<std::string>();
    }
    if (s.contains("only_where") && sc.family != "aiter") fail(path, ptr + "/only_where", "only for aiter scenarios");
    if (s.contains("only_where")) {
      const auto cond = string_at(s, "only_where", path, ptr);
      if (cond != "loaded-exceeds-i-over-tp")
        fail(path, ptr + "/only_where", fmt::format("expected \"loaded-exceeds-i-over-tp\", found \"{}\"", cond));
      sc.only_where_loaded_exceeds_i_over_tp = true;
    }
    out.push_back(std::move(sc));
  }
  return out;
}

std::vector<std::string> realised_scenarios(const std::vector<Scenario>& scenarios, const Combination& c,
                                            const Geometry& g, PadConvention convention) {
  const auto dims = dimension_map(c);
  std::vector<std::string> names;
  for (const auto& s : scenarios) {
    if (s.family != "aiter") continue;
    const bool matches = std::all_of(s.match.begin(), s.match.end(),
                                     [&](const auto& kv) { return dims.at(kv.first) == kv.second; });
    if (!matches) continue;
    if (s.only_where_loaded_exceeds_i_over_tp &&
        (g.loaded_units <= g.units_over_tp || kernel_units(c, g, convention) >= g.loaded_units))
      continue;
    names.push_back(s.name);
  }
  return names;
}

std::vector<std::string> realised_scenarios(const std::vector<Scenario>& scenarios,
                                            const std::map<std::string, std::string>& dims) {
  const auto family = dims.find("family");
  std::vector<std::string> names;
  for (const auto& s : scenarios) {
    if (family == dims.end() || s.family != family->second) continue;
    const bool matches = std::all_of(s.match.begin(), s.match.end(), [&](const auto& kv) {
      const auto it = dims.find(kv.first);
      return it != dims.end() && it->second == kv.second;
    });
    if (matches) names.push_back(s.name);
  }
  return names;
}

}  // namespace mxg::matrix
