// Loading of case files: JSON parsing, schema validation, the semantic checks a schema cannot
// express (unique names across files, TP ranks, routing that needs spare experts), and the
// expansion of each shape entry into one ShapeSpec per TP rank.
#include "harness/matrix/case_spec.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/matrix/case_schema.hpp"
#include "harness/matrix/dimensions.hpp"
#include "harness/matrix/ggml/ggml_combination.hpp"
#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::matrix {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::pair<Routing, const char*> kRoutingNames[] = {
    {Routing::Uniform, "uniform"}, {Routing::Skewed, "skewed"},
    {Routing::OneExpert, "one-expert"}, {Routing::SomeEmpty, "some-empty"}};
constexpr std::pair<InputDist, const char*> kInputNames[] = {
    {InputDist::Normal, "normal"}, {InputDist::Outliers, "outliers"}, {InputDist::ZeroBlocks, "zero-blocks"},
    {InputDist::ExtremeScales, "extreme-scales"}, {InputDist::NanScale, "nan-scale"}};

constexpr std::size_t kMaxCaseFileBytes = 16u << 20;

json parse_case_file(const fs::path& file) {
  const std::string text = read_regular_file(file, file.string() + ": case file", kMaxCaseFileBytes);
  std::string bounded_error;
  try {
    return json_read::parse(text, file.string());  // depth, size and duplicate keys bounded
  } catch (const InputError& bounded) {
    if (std::string_view(bounded.what()).find("not valid JSON") == std::string_view::npos) throw;
    bounded_error = bounded.what();
  }
  // A syntax error: the bounded reader stopped before nesting got deep, so the plain parser stops at
  // the same byte; it is only used to tell the line and column.
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte counts from 1 and points just past the offending character.
    const auto end = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end), '\n');
    const auto line_start = text.rfind('\n', end == 0 ? 0 : end - 1);
    const auto column = end - (line_start == std::string::npos || end == 0 ? 0 : line_start + 1) + 1;
    std::string what = e.what();
    if (const auto at = what.find("column "); at != std::string::npos) {
      if (const auto colon = what.find(": ", at); colon != std::string::npos) what = what.substr(colon + 2);
    }
    throw InputError(fmt::format("{}:{}:{}: not valid JSON (byte {}): {}", file.string(), line, column, e.byte, what));
  } catch (const json::exception&) {  // e.g. a number beyond double's range (a tolerance of 1e999)
    throw InputError(bounded_error);
  }
}

// Every *.json under `dir` (recursively, skipping schema/), sorted by path.
std::vector<fs::path> case_files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && it->path().filename() == "schema") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw InputError(fmt::format("{}: no *.json case files in this directory", dir.string()));
  return files;
}

// Each rank checked against tp while still the JSON's own integer: narrowing first turned rank
// 4294967297 into 1 at tp 2 (and 18446744073709551615 into -1).
std::vector<int> ranks_of(const json& shape, int tp, const fs::path& file, const std::string& at) {
  std::vector<int> ranks;
  if (shape["ranks"].is_string()) {  // "all"
    for (int r = 0; r < tp; ++r) ranks.push_back(r);
    return ranks;
  }
  for (std::size_t i = 0; i < shape["ranks"].size(); ++i) {
    const json& r = shape["ranks"][i];
    const bool in_range = r.is_number_unsigned() ? r.get<std::uint64_t>() < static_cast<std::uint64_t>(tp)
                                                 : r.is_number_integer() && r.get<std::int64_t>() >= 0 &&
                                                       r.get<std::int64_t>() < tp;
    if (!in_range) {
      throw_case_error(file, fmt::format("{}/ranks/{}", at, i), fmt::format("a rank below tp = {}", tp), r.dump());
    }
    ranks.push_back(static_cast<int>(r.get<std::int64_t>()));
  }
  return ranks;
}

// The checks of one shape entry the schema cannot state; returns its expansion.
std::vector<ShapeSpec> expand_shape(const json& entry, const fs::path& file, const std::string& at) {
  const int tp = entry["tp"].get<int>();
  const std::vector<int> ranks = ranks_of(entry, tp, file, at);
  std::vector<ShapeSpec> out;
  if (entry.contains("model")) {
    for (int r : ranks) out.push_back(model_shape(entry["model"].get<std::string>(), tp, r));
    return out;
  }
  const std::int64_t experts = entry["experts"].get<std::int64_t>(), topk = entry["topk"].get<std::int64_t>();
  if (topk > experts) {
    throw_case_error(file, at + "/topk", fmt::format("at most experts = {}", experts), std::to_string(topk));
  }
  const std::int64_t hidden = entry["hidden"].get<std::int64_t>(), intermediate = entry["intermediate"].get<std::int64_t>();
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    // I is a multiple of 32 (schema), so every slice is whole 32-unit blocks; but a rank can
    // be left with none, which has nothing to test.
    const auto plan = layout::tp_plan(intermediate, hidden, tp, ranks[i]);
    if (plan.units_loaded == 0) {
      const std::string pointer = entry["ranks"].is_string() ? at + "/tp" : fmt::format("{}/ranks/{}", at, i);
      throw_case_error(file, pointer,
                       fmt::format("every listed rank to load intermediate units (I = {} at tp = {} leaves rank {} "
                                   "without any: slices are ceil(I/32/tp) blocks of 32)",
                                   intermediate, tp, ranks[i]),
                       entry["ranks"].is_string() ? std::to_string(tp) : std::to_string(ranks[i]));
    }
    ShapeSpec s;
    s.model = "custom";
    s.name = shape_name(entry["name"].get<std::string>(), tp, ranks[i]);
    s.hidden = hidden;
    s.intermediate = intermediate;
    s.experts = experts;
    s.topk = topk;
    s.tp = tp;
    s.rank = ranks[i];
    out.push_back(std::move(s));
  }
  return out;
}

CaseSpec build_case(const json& doc, const fs::path& file) {
  CaseSpec c;
  c.file = file;
  c.name = doc["name"].get<std::string>();
  if (doc.contains("family")) c.family = doc["family"].get<std::string>();
  c.tier = doc["tier"].get<std::string>();
  c.comment = doc["comment"].get<std::string>();

  std::set<std::string> shape_names;
  for (std::size_t i = 0; i < doc["shapes"].size(); ++i) {
    const std::string at = fmt::format("/shapes/{}", i);
    for (ShapeSpec& s : expand_shape(doc["shapes"][i], file, at)) {
      if (!shape_names.insert(s.name).second) {
        throw_case_error(file, at, "shapes that do not repeat an earlier entry's rank", s.name + " a second time");
      }
      c.shapes.push_back(std::move(s));
    }
  }
  for (const auto& t : doc["tokens"]) c.tokens.push_back(t.get<std::int64_t>());
  for (const auto& r : doc["routing"]) c.routings.push_back(*parse_routing(r.get<std::string>()));
  for (const auto& d : doc["inputs"]) c.inputs.push_back(*parse_input_dist(d.get<std::string>()));
  for (const auto& s : doc["seeds"]) c.seeds.push_back(s.get<std::uint64_t>());

  // SomeEmpty draws from max(k, E/2) experts and needs at least one left over.
  for (std::size_t i = 0; i < c.routings.size(); ++i) {
    if (c.routings[i] != Routing::SomeEmpty) continue;
    for (const ShapeSpec& s : c.shapes) {
      if (s.topk >= s.experts) {
        throw_case_error(file, fmt::format("/routing/{}", i),
                         fmt::format("a routing that can leave experts empty (shape {} has topk = experts = {})",
                                     s.name, s.experts),
                         "\"some-empty\"");
      }
    }
  }

  const json& tol = doc["tolerance"];
  c.tolerance.nmse = tol["nmse"].get<double>();
  c.tolerance.max_rel = tol["max_rel"].get<double>();
  c.tolerance.cosine = tol["cosine"].get<double>();
  c.tolerance_note = tol["note"].get<std::string>();

  if (doc.contains("dimensions")) {
    for (const auto& [dimension, values] : doc["dimensions"].items()) {
      const auto known = c.family == "ggml" ? ggml::dimension_values(dimension) : dimension_values(dimension);
      if (known.empty()) {
        throw_case_error(file, "/dimensions/" + dimension, fmt::format("a dimension of the {} family", c.family),
                         dimension);
      }
      auto& list = c.dimensions[dimension];
      for (const auto& v : values) list.push_back(v.is_boolean() ? (v.get<bool>() ? "true" : "false") : v.get<std::string>());
    }
  }
  // The ggml family runs whole layers: llama.cpp's CPU path has no tensor-parallel slicing.
  if (c.family == "ggml") {
    for (std::size_t i = 0; i < c.shapes.size(); ++i) {
      if (c.shapes[i].tp != 1) {
        throw_case_error(file, "/shapes", "tp 1 shapes for the ggml family (whole layers)",
                         fmt::format("{} at tp {}", c.shapes[i].name, c.shapes[i].tp));
      }
    }
  }
  return c;
}

}  // namespace

std::string shape_name(std::string_view base, int tp, int rank) { return fmt::format("{}-tp{}-r{}", base, tp, rank); }

ShapeSpec model_shape(std::string_view model, int tp, int rank) {
  if (model != "gptoss20b" && model != "gptoss120b") {
    throw InputError(fmt::format("model '{}': unknown (models: gptoss20b, gptoss120b)", model));
  }
  ShapeSpec s;
  s.model = std::string(model);
  s.name = shape_name(model, tp, rank);
  s.hidden = 2880;
  s.intermediate = 2880;
  s.experts = model == "gptoss20b" ? 32 : 128;
  s.topk = 4;
  s.tp = tp;
  s.rank = rank;
  s.swiglu_limit = 7.0f;
  s.alpha = 1.702f;
  return s;
}

std::string routing_name(Routing r) {
  for (const auto& [value, name] : kRoutingNames) {
    if (value == r) return name;
  }
  return "?";
}

std::string input_dist_name(InputDist d) {
  for (const auto& [value, name] : kInputNames) {
    if (value == d) return name;
  }
  return "?";
}

std::optional<Routing> parse_routing(std::string_view name) {
  for (const auto& [value, n] : kRoutingNames) {
    if (name == n) return value;
  }
  return std::nullopt;
}

std::optional<InputDist> parse_input_dist(std::string_view name) {
  for (const auto& [value, n] : kInputNames) {
    if (name == n) return value;
  }
  return std::nullopt;
}

std::vector<CaseSpec> load_cases(const std::vector<fs::path>& paths) {
  std::vector<fs::path> files;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      const auto found = case_files_in(p);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      throw InputError(fmt::format("{}: no such case file or directory", p.string()));
    }
  }
  // A file named twice (a directory and a file inside it) loads once.
  std::set<fs::path> seen;
  std::erase_if(files, [&](const fs::path& f) { return !seen.insert(fs::weakly_canonical(f)).second; });

  std::vector<CaseSpec> cases;
  std::map<std::string, fs::path> defined_in;
  for (const fs::path& file : files) {
    const json doc = parse_case_file(file);
    validate_case_json(doc, file);
    CaseSpec c = build_case(doc, file);
    if (const auto [it, fresh] = defined_in.emplace(c.name, file); !fresh) {
      throw_case_error(file, "/name", "a case name no other case file uses",
                       fmt::format("\"{}\", already the name of the case in {}", c.name, it->second.string()));
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace mxg::matrix
