// JSON form of the result record (reports/REPORT_SCHEMA.md) and the report.json writer/reader.
#include "reports/json_io.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "reports/file_io.hpp"

namespace mxg::report {

namespace {

// An InputError that knows which field it is about, so enclosing objects can prefix their own key
// ("results[3].metrics.nmse") on the way out.
struct FieldError : InputError {
  // An empty path means "this value itself"; the enclosing reader supplies the key.
  FieldError(std::string path_, std::string problem_)
      : InputError(path_.empty() ? problem_ : fmt::format("field '{}': {}", path_, problem_)),
        path(std::move(path_)), problem(std::move(problem_)) {}
  std::string path, problem;
};

std::string describe(const Json& j) {
  std::string text = dump_json(j);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return fmt::format("{} {}", j.type_name(), text);
}

const Json& field(const Json& j, std::string_view key) {
  if (!j.is_object()) throw FieldError(std::string(key), fmt::format("parent is {}, not an object", j.type_name()));
  const auto it = j.find(key);
  if (it == j.end()) throw FieldError(std::string(key), "missing");
  return *it;
}

std::string get_string(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  if (!v.is_string()) throw FieldError(std::string(key), "expected a string, got " + describe(v));
  return v.get<std::string>();
}

bool get_bool(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  if (!v.is_boolean()) throw FieldError(std::string(key), "expected true or false, got " + describe(v));
  return v.get<bool>();
}

std::int64_t get_int(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  const bool fits = v.is_number_integer() &&
                    (!v.is_number_unsigned() ||
                     v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  if (!fits) throw FieldError(std::string(key), "expected a 64-bit signed integer, got " + describe(v));
  return v.get<std::int64_t>();
}

std::uint64_t get_uint(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  if (!v.is_number_unsigned()) throw FieldError(std::string(key), "expected an unsigned integer, got " + describe(v));
  return v.get<std::uint64_t>();
}

double get_double(const Json& j, std::string_view key) { return double_from_json(field(j, key), key); }

// Reads a nested value through its own from_json, prefixing the path of any field error inside it.
template <class T>
T get_nested(const Json& v, const std::string& path) {
  try {
    return v.get<T>();
  } catch (const FieldError& e) {
    throw FieldError(e.path.empty() ? path : path + "." + e.path, e.problem);
  }
}

template <class T>
T get_object(const Json& j, std::string_view key) {
  return get_nested<T>(field(j, key), std::string(key));
}

template <class T>
std::vector<T> get_array(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  if (!v.is_array()) throw FieldError(std::string(key), "expected an array, got " + describe(v));
  std::vector<T> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string path = fmt::format("{}[{}]", key, i);
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v[i].is_string()) throw FieldError(path, "expected a string, got " + describe(v[i]));
      out.push_back(v[i].template get<std::string>());
    } else {
      out.push_back(get_nested<T>(v[i], path));
    }
  }
  return out;
}

std::map<std::string, std::string> get_object_of_strings(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  if (!v.is_object()) throw FieldError(std::string(key), "expected an object of strings, got " + describe(v));
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : v.items()) {
    if (!value.is_string()) throw FieldError(fmt::format("{}.{}", key, name), "expected a string, got " + describe(value));
    out[name] = value.get<std::string>();
  }
  return out;
}

ShardInfo shard_from_json(const Json& j) {
  ShardInfo s;
  try {
    s.index = get_int(j, "index");
    s.count = get_int(j, "count");
    s.selected = get_int(j, "selected");
    s.planned = get_int(j, "planned");
  } catch (const FieldError& e) {
    throw FieldError("shard." + e.path, e.problem);
  }
  if (s.count < 1 || s.index < 1 || s.index > s.count || s.selected < 0 || s.planned < 0) {
    throw FieldError("shard", fmt::format("not a part K of N: {}", describe(j)));
  }
  return s;
}

void require_object(const Json& j, std::string_view what) {
  if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object, got {}", what, describe(j)));
}

}  // namespace

std::string dump_json(const Json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

Json double_to_json(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  return x;
}

double double_from_json(const Json& j, std::string_view field_name) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  throw FieldError(std::string(field_name),
                   "expected a number or one of \"NaN\", \"Infinity\", \"-Infinity\", got " + describe(j));
}

void to_json(Json& j, const Verdict& v) { j = std::string(verdict_name(v)); }

void from_json(const Json& j, Verdict& v) {
  const auto parsed = j.is_string() ? parse_verdict(j.get_ref<const std::string&>()) : std::nullopt;
  if (!parsed) {
    throw FieldError("", "expected one of PASS, CAUGHT, FAIL, BLIND, ERROR, SKIPPED, got " + describe(j));
  }
  v = *parsed;
}

void to_json(Json& j, const Metrics& m) {
  j = Json::object();
  j["nmse"] = double_to_json(m.nmse);
  j["max_rel"] = double_to_json(m.max_rel);
  j["cosine"] = double_to_json(m.cosine);
  j["nonfinite_kernel"] = m.nonfinite_kernel;
  j["nonfinite_ref"] = m.nonfinite_ref;
}

void from_json(const Json& j, Metrics& m) {
  m.nmse = get_double(j, "nmse");
  m.max_rel = get_double(j, "max_rel");
  m.cosine = get_double(j, "cosine");
  m.nonfinite_kernel = get_int(j, "nonfinite_kernel");
  m.nonfinite_ref = get_int(j, "nonfinite_ref");
}

void to_json(Json& j, const Tolerance& t) {
  j = Json::object();
  j["nmse"] = double_to_json(t.nmse);
  j["max_rel"] = double_to_json(t.max_rel);
  j["cosine"] = double_to_json(t.cosine);
}

void from_json(const Json& j, Tolerance& t) {
  t.nmse = get_double(j, "nmse");
  t.max_rel = get_double(j, "max_rel");
  t.cosine = get_double(j, "cosine");
}

void to_json(Json& j, const Hotspot& h) {
  j = Json::object();
  j["expert"] = h.expert;
  j["tile"] = h.tile;
  j["share"] = double_to_json(h.share);
}

void from_json(const Json& j, Hotspot& h) {
  h.expert = get_int(j, "expert");
  h.tile = get_int(j, "tile");
  h.share = get_double(j, "share");
}

void to_json(Json& j, const CombinationResult& r) {
  j = Json::object();
  j["id"] = r.id;
  j["case_name"] = r.case_name;
  j["shape"] = r.shape;
  Json dims = Json::object();
  for (const auto& [name, value] : r.dims) dims[name] = value;
  j["dims"] = std::move(dims);
  j["scenarios"] = r.scenarios;
  j["mutant"] = r.mutant;
  j["tokens"] = r.tokens;
  j["seed"] = r.seed;
  j["expected_consistent"] = r.expected_consistent;
  j["derivation"] = r.derivation;
  j["verdict"] = r.verdict;
  j["metrics"] = r.metrics;
  j["tolerance"] = r.tolerance;
  j["hotspots"] = r.hotspots;
  j["message"] = r.message;
  j["backend"] = r.backend;
  j["kernel"] = r.kernel;
  j["device"] = r.device;
  j["seconds"] = double_to_json(r.seconds);
}

void from_json(const Json& j, CombinationResult& r) {
  r.id = get_string(j, "id");
  r.case_name = get_string(j, "case_name");
  r.shape = get_string(j, "shape");
  const Json& dims = field(j, "dims");
  if (!dims.is_object()) throw FieldError("dims", "expected an object of strings, got " + describe(dims));
  r.dims.clear();
  for (const auto& [name, value] : dims.items()) {
    if (!value.is_string()) throw FieldError("dims." + name, "expected a string, got " + describe(value));
    r.dims[name] = value.get<std::string>();
  }
  r.scenarios = get_array<std::string>(j, "scenarios");
  r.mutant = get_string(j, "mutant");
  r.tokens = get_int(j, "tokens");
  r.seed = get_uint(j, "seed");
  r.expected_consistent = get_bool(j, "expected_consistent");
  r.derivation = get_string(j, "derivation");
  r.verdict = get_object<Verdict>(j, "verdict");
  r.metrics = get_object<Metrics>(j, "metrics");
  r.tolerance = get_object<Tolerance>(j, "tolerance");
  r.hotspots = get_array<Hotspot>(j, "hotspots");
  r.message = get_string(j, "message");
  r.backend = get_string(j, "backend");
  r.kernel = get_string(j, "kernel");
  r.device = get_string(j, "device");
  r.seconds = get_double(j, "seconds");
}

void to_json(Json& j, const MutantResult& m) {
  j = Json::object();
  j["name"] = m.name;
  j["description"] = m.description;
  j["killed"] = m.killed;
  j["combinations"] = m.combinations;
  j["detecting"] = m.detecting;
}

void from_json(const Json& j, MutantResult& m) {
  m.name = get_string(j, "name");
  m.description = get_string(j, "description");
  m.killed = get_bool(j, "killed");
  m.combinations = get_int(j, "combinations");
  m.detecting = get_int(j, "detecting");
}

void to_json(Json& j, const Totals& t) {
  j = Json::object();
  Json counts = Json::object();
  for (Verdict v : kAllVerdicts) {
    const auto it = t.counts.find(v);
    counts[std::string(verdict_name(v))] = it == t.counts.end() ? 0 : it->second;
  }
  j["counts"] = std::move(counts);
  j["margin"] = t.margin ? double_to_json(*t.margin) : Json(nullptr);
  j["largest_pass_nmse"] = double_to_json(t.largest_pass_nmse);
  j["smallest_caught_nmse"] = double_to_json(t.smallest_caught_nmse);
  j["mutants_killed"] = t.mutants_killed;
  j["mutants_total"] = t.mutants_total;
  j["mutant_results"] = t.mutant_results;
  j["exit_code"] = t.exit_code;
}

void from_json(const Json& j, Totals& t) {
  const Json& counts = field(j, "counts");
  t.counts.clear();
  for (Verdict v : kAllVerdicts) {
    try {
      t.counts[v] = get_int(counts, verdict_name(v));
    } catch (const FieldError& e) {
      throw FieldError("counts." + e.path, e.problem);
    }
  }
  const Json& margin = field(j, "margin");
  t.margin = margin.is_null() ? std::nullopt : std::optional<double>(double_from_json(margin, "margin"));
  t.largest_pass_nmse = get_double(j, "largest_pass_nmse");
  t.smallest_caught_nmse = get_double(j, "smallest_caught_nmse");
  t.mutants_killed = get_int(j, "mutants_killed");
  t.mutants_total = get_int(j, "mutants_total");
  t.mutant_results = get_int(j, "mutant_results");
  t.exit_code = static_cast<int>(get_int(j, "exit_code"));
}

void to_json(Json& j, const RunSummary& run) {
  j = Json::object();
  j["tool_version"] = run.tool_version;
  j["versions"] = run.versions;
  j["shard"] = {{"index", run.shard.index}, {"count", run.shard.count}, {"selected", run.shard.selected},
                {"planned", run.shard.planned}};
  j["replay_prefix"] = run.replay_prefix;
  j["started_at"] = run.started_at;
  j["finished_at"] = run.finished_at;
  j["backend"] = run.backend;
  j["case_files"] = run.case_files;
  j["interrupted"] = run.interrupted;
  j["wall_seconds"] = double_to_json(run.wall_seconds);
  j["results"] = run.results;
  j["mutants"] = run.mutants;
}

void from_json(const Json& j, RunSummary& run) {
  run.tool_version = get_string(j, "tool_version");
  // Added in place (readers ignore unknown keys): older reports lack them.
  if (j.contains("versions")) run.versions = get_object_of_strings(j, "versions");
  if (j.contains("shard")) run.shard = shard_from_json(j.at("shard"));
  if (j.contains("replay_prefix")) run.replay_prefix = get_string(j, "replay_prefix");
  run.started_at = get_string(j, "started_at");
  run.finished_at = get_string(j, "finished_at");
  run.backend = get_string(j, "backend");
  run.case_files = get_array<std::string>(j, "case_files");
  run.interrupted = get_bool(j, "interrupted");
  run.wall_seconds = get_double(j, "wall_seconds");
  run.results = get_array<CombinationResult>(j, "results");
  run.mutants = get_array<MutantResult>(j, "mutants");
}

Json report_document(const RunSummary& run) {
  Json doc = Json::object();
  doc["schema"] = std::string(kReportSchema);
  // Totals go before the (long) results array so a reader of the file sees the outcome first.
  const Json fields = run;  // named: a temporary in the range-for init would die before the loop runs
  for (const auto& [key, value] : fields.items()) {
    if (key == "results") doc["totals"] = compute_totals(run);
    doc[key] = value;
  }
  return doc;
}

RunSummary run_from_report_document(const Json& doc) {
  require_object(doc, "report");
  const std::string schema = get_string(doc, "schema");
  if (schema != kReportSchema) {
    throw InputError(fmt::format("field 'schema': unsupported value '{}' (this mxguard reads '{}')", schema,
                                 kReportSchema));
  }
  return doc.get<RunSummary>();
}

void write_report_json(const std::filesystem::path& path, const RunSummary& run) {
  write_file_atomically(path, dump_json(report_document(run), 2) + "\n");
}

RunSummary read_report_json(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  const Json doc = json_read::parse_ordered(text, path.string());  // bounded depth, size, duplicate keys
  try {
    return run_from_report_document(doc);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", path.string(), e.what()));
  }
}

}  // namespace mxg::report
