// Reading and merging the report's inputs (report_builder.hpp).
#include "reports/html/report_builder.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/regular_file.hpp"
#include "kernels/common/errors.hpp"
#include "reports/digest.hpp"
#include "reports/file_io.hpp"
#include "reports/jsonl.hpp"
#include "reports/probe_report.hpp"
#include "kernels/common/version.hpp"

namespace mxg::report::html {

namespace fs = std::filesystem;
using json = Json;

namespace {

constexpr int kMaxReportDepth = 64;

constexpr const char* kPageSchema = "mxguard-html/1";

std::string ran_on(const CombinationResult& r) { return fmt::format("{} / {} / {}", r.backend, r.kernel, r.device); }

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// probe.json must carry what the page shows; anything else is another file.
void check_probe_summary(const json& j) {
  if (!j.is_object()) throw InputError(fmt::format("expected a JSON object, got {}", j.type_name()));
  const auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_number_integer() || schema->get<int>() != kProbeSchema) {
    throw InputError(fmt::format("field 'schema': expected {} (probe.json), got {}", kProbeSchema,
                                 schema == j.end() ? std::string("nothing") : schema->dump()));
  }
  for (const char* key : {"accuracy", "answered", "correct", "invalid", "errors", "truncated"}) {
    if (!j.contains(key) || !j[key].is_number()) throw InputError(fmt::format("field '{}': missing or not a number", key));
  }
  if (!j.contains("verdict") || !j["verdict"].is_string()) throw InputError("field 'verdict': missing or not a string");
  if (!j.contains("wilson95") || !j["wilson95"].is_array() || j["wilson95"].size() != 2)
    throw InputError("field 'wilson95': expected [low, high]");
}

char question_mark(const ProbeQuestionRecord& q) {
  // c correct, w wrong number, i no number (invalid), e request failed; upper case: cut off by max tokens.
  char c = !q.error.empty() ? 'e' : q.correct ? 'c' : q.extracted ? 'w' : 'i';
  if (q.error.empty() && q.finish_reason == "length") c = static_cast<char>(c - 'a' + 'A');
  return c;
}

std::string question_sequence(std::vector<ProbeQuestionRecord> questions) {
  std::stable_sort(questions.begin(), questions.end(),
                   [](const ProbeQuestionRecord& a, const ProbeQuestionRecord& b) { return a.order < b.order; });
  std::string out;
  out.reserve(questions.size());
  for (const auto& q : questions) out += question_mark(q);
  return out;
}

std::string now_utc() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

}  // namespace

ReportBuilder::ReportBuilder(ReportOptions options) : options_(std::move(options)), matrix_(options_.digest) {}

std::uint32_t ReportBuilder::add_source(const std::string& path, const std::string& kind) {
  sources_.push_back({{"path", path}, {"kind", kind}});
  source_results_.push_back(0);
  source_duplicates_.push_back(0);
  return static_cast<std::uint32_t>(sources_.size() - 1);
}

bool ReportBuilder::admit(const CombinationResult& r, std::uint32_t source) {
  const auto [ran, new_ran] = ran_on_index_.try_emplace(ran_on(r), static_cast<std::uint32_t>(ran_on_.size()));
  if (new_ran) ran_on_.push_back(ran->first);
  const auto [it, inserted] = seen_.try_emplace(r.id, Seen{r.verdict, r.metrics.nmse, ran->second, source});
  if (inserted) return true;
  const Seen& s = it->second;
  std::string difference;
  if (s.verdict != r.verdict) {
    difference = fmt::format("verdict {} vs {}", verdict_name(s.verdict), verdict_name(r.verdict));
  } else if (!same_double(s.nmse, r.metrics.nmse)) {
    difference = fmt::format("nmse {} vs {}", format_sci(s.nmse), format_sci(r.metrics.nmse));
  } else if (s.ran_on != ran->second) {
    difference = fmt::format("ran on {} vs {}", ran_on_[s.ran_on], ran_on(r));
  }
  if (!difference.empty()) {
    throw InputError(fmt::format(
        "result '{}' appears in {} and {} with different outcomes ({}); merge only shards of one run, and give runs "
        "of different backends or devices separate reports",
        r.id, sources_[s.source]["path"].get<std::string>(), sources_[source]["path"].get<std::string>(), difference));
  }
  ++source_duplicates_[source];
  return false;
}

void ReportBuilder::add_matrix_run(const RunSummary& run, const std::string& source) {
  const std::uint32_t src = add_source(source, "matrix");
  const std::uint32_t index = matrix_.add_run(RunInfo{source, run.tool_version, run.started_at, run.finished_at,
                                                      run.backend, run.case_files, run.interrupted, run.wall_seconds});
  bool any_new = false;
  for (const CombinationResult& r : run.results) {
    if (!admit(r, src)) continue;
    any_new = true;
    ++source_results_[src];
    matrix_.add_result(r, index);
    if (!is_mutant_result(r) && (r.verdict == Verdict::Fail || r.verdict == Verdict::Blind || r.verdict == Verdict::Error))
      failing_[r.id] = r.verdict;
  }
  // A run whose every result was already merged is the same run given twice: its mutants too.
  if (any_new || run.results.empty()) matrix_.add_mutants(run.mutants);
}

void ReportBuilder::add_report_json(const fs::path& file) {
  // Streamed: a nightly's report.json holds over a million results; each is merged into the digest and
  // dropped as soon as it is parsed instead of building the whole document in memory. The run's own
  // fields are read once the document is done (set_run); its index exists from the start.
  ::close(open_regular_file(file, file.string()));  // refuse a FIFO or device before blocking on it
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open for reading", file.string()));
  const std::uint32_t src = add_source(file.string(), "matrix");
  const std::uint32_t run = matrix_.add_run(RunInfo{file.string(), "", "", "", "", {}, false, 0});
  std::string key;
  std::size_t index = 0;
  bool any_new = false;
  json doc;
  try {
    doc = json::parse(in, [&](int depth, json::parse_event_t event, json& parsed) {
      // The same nesting bound as json_read::parse: deeper values would overflow the stack later.
      if (depth > kMaxReportDepth) throw InputError(fmt::format("JSON nested deeper than {} levels", kMaxReportDepth));
      if (depth == 1 && event == json::parse_event_t::key) key = parsed.get<std::string>();
      if (depth == 1 && event == json::parse_event_t::value && key == "schema") {
        if (!parsed.is_string() || parsed.get<std::string>() != kReportSchema) {
          throw InputError(fmt::format("field 'schema': unsupported value {} (this mxguard reads '{}')", json_read::show(parsed),
                                       kReportSchema));
        }
      }
      if (depth != 2 || event != json::parse_event_t::object_end || key != "results") return true;
      CombinationResult r;
      try {
        r = parsed.get<CombinationResult>();
      } catch (const InputError& e) {
        throw InputError(fmt::format("results[{}]: {}", index, e.what()));
      }
      ++index;
      if (admit(r, src)) {
        any_new = true;
        ++source_results_[src];
        if (!is_mutant_result(r) &&
            (r.verdict == Verdict::Fail || r.verdict == Verdict::Blind || r.verdict == Verdict::Error)) {
          failing_[r.id] = r.verdict;
        }
        matrix_.add_result(r, run);
      }
      return false;  // drop it from the document
    });
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", file.string(), e.what()));
  }
  RunSummary meta;
  try {
    if (!doc.contains("schema")) throw InputError("field 'schema': missing");
    meta = doc.get<RunSummary>();
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", file.string(), e.what()));
  }
  matrix_.set_run(run, RunInfo{file.string(), meta.tool_version, meta.started_at, meta.finished_at, meta.backend,
                               meta.case_files, meta.interrupted, meta.wall_seconds});
  // A run whose every result was already merged is the same run given twice: its mutants too.
  if (any_new || index == 0) matrix_.add_mutants(meta.mutants);
}

void ReportBuilder::add_results_jsonl(const fs::path& file) {
  // A run that died before writing report.json. A --resume re-run appends a second line for the same id:
  // the later line is that run's final word.
  LoadedResults loaded = load_results_jsonl(file);
  std::map<std::string, std::size_t> last;
  for (std::size_t i = 0; i < loaded.results.size(); ++i) last[loaded.results[i].id] = i;
  RunSummary run;
  run.interrupted = true;  // no report.json: the run did not finish
  for (std::size_t i = 0; i < loaded.results.size(); ++i) {
    if (last[loaded.results[i].id] == i) run.results.push_back(std::move(loaded.results[i]));
  }
  if (!run.results.empty()) run.backend = run.results.front().backend;
  add_matrix_run(run, file.string());
}

void ReportBuilder::add_probe(const json& summary, const std::vector<ProbeQuestionRecord>& questions,
                              const std::string& source) {
  check_probe_summary(summary);
  add_source(source, "probe");
  source_results_.back() = static_cast<std::int64_t>(questions.size());
  probes_.push_back(ProbeRun{source, summary, question_sequence(questions)});
}

void ReportBuilder::add_probe_files(const fs::path& probe_json, const fs::path& probe_jsonl) {
  json summary;
  try {
    summary = json_read::parse_ordered(read_file(probe_json), "JSON");
    check_probe_summary(summary);
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", probe_json.string(), e.what()));
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", probe_json.string(), e.what()));
  }
  std::vector<ProbeQuestionRecord> questions;
  if (fs::exists(probe_jsonl)) questions = load_probe_jsonl(probe_jsonl).records;
  add_probe(summary, questions, probe_json.string());
}

bool ReportBuilder::add_folder(const fs::path& dir) {
  bool found = false;
  if (fs::is_regular_file(dir / "report.json")) {
    add_report_json(dir / "report.json");
    found = true;
  } else if (fs::is_regular_file(dir / "results.jsonl")) {
    add_results_jsonl(dir / "results.jsonl");
    found = true;
  } else if (fs::is_regular_file(dir / "results.jsonl.gz")) {  // a closed run's log without its report.json
    add_results_jsonl(dir / "results.jsonl.gz");
    found = true;
  }
  if (fs::is_regular_file(dir / "probe.json")) {
    add_probe_files(dir / "probe.json", dir / "probe.jsonl");
    found = true;
  }
  if (found) return true;
  // A folder of run folders (downloaded CI artifacts): every run folder below it, in name order.
  std::vector<fs::path> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory()) children.push_back(entry.path());
  }
  if (ec) throw InputError(fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
  std::sort(children.begin(), children.end());
  for (const fs::path& child : children) found = add_folder(child) || found;
  return found;
}

void ReportBuilder::add_path(const fs::path& path) {
  if (fs::is_directory(path)) {
    if (!add_folder(path)) {
      throw InputError(fmt::format("{}: no report.json, results.jsonl or probe.json in it or below it", path.string()));
    }
    return;
  }
  if (!fs::exists(path)) throw InputError(fmt::format("{}: no such file or directory", path.string()));
  const std::string name = path.filename().string();
  if (name == "probe.json") {
    add_probe_files(path, path.parent_path() / "probe.jsonl");
  } else if (path.extension() == ".jsonl" || name.ends_with(".jsonl.gz")) {
    add_results_jsonl(path);
  } else if (path.extension() == ".json") {
    add_report_json(path);
  } else {
    throw InputError(fmt::format("{}: not a run folder, report.json, results.jsonl or probe.json", path.string()));
  }
}

void ReportBuilder::set_history(const fs::path& path) {
  history_ = read_history(path);
  history_path_ = path;
}

std::string ReportBuilder::probe_series_name(const ProbeRun& probe) const {
  // The nightly names probe steps "probe <model>-gu<N>" and its artifacts "probe-<model>-gu<N>": a step
  // whose slug is in this run's path is this probe; else the one step probing the same model.
  const std::string model = probe.summary.contains("server") && probe.summary["server"].contains("model") &&
                                    probe.summary["server"]["model"].is_string()
                                ? probe.summary["server"]["model"].get<std::string>()
                                : std::string();
  std::vector<std::string> same_model;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    for (const HistoryStep& s : it->steps) {
      if (!s.is_probe()) continue;
      const std::string slug = s.name.rfind("probe ", 0) == 0 ? s.name.substr(6) : s.name;
      if (!slug.empty() && probe.source.find(slug) != std::string::npos) return s.name;
      const auto m = s.labels.find("model");
      if (!model.empty() && m != s.labels.end() && m->is_string() && m->get<std::string>() == model &&
          std::find(same_model.begin(), same_model.end(), s.name) == same_model.end()) {
        same_model.push_back(s.name);
      }
    }
  }
  if (same_model.size() == 1) return same_model.front();
  return model.empty() ? "probe " + probe.source : "probe " + model;
}

json ReportBuilder::tonight_figures() const {
  json t = json::object();
  t["time"] = now_utc();
  if (!matrix_.empty()) {
    const Totals totals = matrix_.totals();
    t["fail"] = totals.counts.at(Verdict::Fail);
    t["blind"] = totals.counts.at(Verdict::Blind);
    t["error"] = totals.counts.at(Verdict::Error);
    t["margin"] = totals.margin ? double_to_json(*totals.margin) : json(nullptr);
  }
  double wall = 0;
  const json runs = matrix_.empty() ? json::array() : matrix_.runs_json();
  for (const json& r : runs) wall += r["wall_seconds"].is_number() ? r["wall_seconds"].get<double>() : 0;
  json probes = json::object();
  for (const ProbeRun& p : probes_) {
    if (p.summary.contains("wall_s") && p.summary["wall_s"].is_number()) wall += p.summary["wall_s"].get<double>();
    probes[probe_series_name(p)] = {{"accuracy", p.summary["accuracy"]}, {"verdict", p.summary["verdict"]}};
  }
  t["wall_seconds"] = wall;
  t["probes"] = std::move(probes);
  return t;
}

json ReportBuilder::page_data() const {
  json d = json::object();
  d["schema"] = kPageSchema;
  d["generated_at"] = now_utc();
  d["generator"] = "mxguard " + std::string(mxguard_version());
  d["title"] = options_.title;
  json meta = json::object();
  for (const auto& [k, v] : options_.meta) meta[k] = v;
  d["meta"] = std::move(meta);
  json sources = sources_;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    sources[i]["results"] = source_results_[i];
    sources[i]["duplicates"] = source_duplicates_[i];
  }
  d["sources"] = std::move(sources);
  json verdicts = json::array();
  for (Verdict v : kAllVerdicts) {
    verdicts.push_back({{"name", std::string(verdict_name(v))},
                        {"letter", std::string(1, verdict_name(v)[0])},
                        {"meaning", std::string(verdict_meaning(v))},
                        {"explanation", std::string(verdict_explanation(v))}});
  }
  d["verdicts"] = std::move(verdicts);
  d["weak_margin"] = kWeakMarginThreshold;
  d["matrix"] = matrix_.empty() ? json(nullptr) : matrix_.to_json();
  json probes = json::array();
  for (const ProbeRun& p : probes_) {
    probes.push_back({{"source", p.source}, {"series", probe_series_name(p)}, {"summary", p.summary}, {"sequence", p.sequence}});
  }
  d["probes"] = std::move(probes);

  if (!history_path_) {
    d["history"] = nullptr;
    return d;
  }
  json h = json::object();
  h["source"] = history_path_->string();
  json nights = json::array();
  for (const Night& n : history_) {
    const NightFigures f = night_figures(n);
    json night = {{"time", n.time}, {"sha", n.sha}, {"url", n.url}, {"verdict", n.verdict}};
    const auto opt_int = [](const std::optional<std::int64_t>& x) { return x ? json(*x) : json(nullptr); };
    night["fail"] = opt_int(f.fail);
    night["blind"] = opt_int(f.blind);
    night["error"] = opt_int(f.error);
    night["margin"] = f.margin ? double_to_json(*f.margin) : json(nullptr);
    night["wall_seconds"] = f.wall_seconds ? json(*f.wall_seconds) : json(nullptr);
    json probes_of_night = json::object();
    for (const auto& [name, acc] : f.probe_accuracy) {
      probes_of_night[name] = {{"accuracy", acc}, {"verdict", f.probe_verdict.count(name) ? f.probe_verdict.at(name) : ""}};
    }
    night["probes"] = std::move(probes_of_night);
    nights.push_back(std::move(night));
  }
  h["nights"] = std::move(nights);
  h["tonight"] = tonight_figures();
  if (!history_.empty()) {
    Tonight tonight;
    tonight.failing = failing_;
    tonight.verdict_of = [this](const std::string& id) -> std::optional<Verdict> {
      const auto it = seen_.find(id);
      if (it == seen_.end()) return std::nullopt;
      return it->second.verdict;
    };
    for (const ProbeRun& p : probes_) tonight.probe_verdict[probe_series_name(p)] = p.summary["verdict"].get<std::string>();
    h["since_last_night"] = since_last_night(history_.back(), tonight);
  } else {
    h["since_last_night"] = nullptr;
  }
  d["history"] = std::move(h);
  return d;
}

}  // namespace mxg::report::html
