// Gathers what one HTML report shows: matrix runs (report.json, or results.jsonl of a run that never
// finished), probe runs (probe.json + probe.jsonl), the nightly history, and free-form facts (--meta);
// then renders the page (page.hpp). Several shards or runs merge: results are keyed by id, an id seen
// twice with the same content counts once, and an id seen twice with different content is an input
// error naming both files (runs of different devices belong in different reports).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reports/html/history.hpp"
#include "reports/html/matrix_digest.hpp"
#include "reports/json_io.hpp"
#include "reports/probe_result.hpp"

namespace mxg::report::html {

struct ReportOptions {
  DigestOptions digest;
  std::string title;                                       // default: from the inputs
  std::vector<std::pair<std::string, std::string>> meta;   // shown under "Versions", e.g. image=..., sha=...
};

class ReportBuilder {
 public:
  explicit ReportBuilder(ReportOptions options = {});

  // A run's output folder (report.json / results.jsonl, probe.json / probe.jsonl), a folder holding
  // such folders at any depth (downloaded CI artifacts), or one of those files. Nothing usable, an
  // unreadable or malformed file, or a conflicting duplicate -> mxg::InputError naming the file.
  void add_path(const std::filesystem::path& path);
  // A matrix run already in memory (the runner's own report.html).
  void add_matrix_run(const RunSummary& run, const std::string& source);
  // A probe run already in memory (the probe's own report.html); `summary` as probe.json holds it.
  void add_probe(const Json& summary, const std::vector<ProbeQuestionRecord>& questions, const std::string& source);
  // nightly.jsonl from the nightly workflow: the trend and "since last night". Malformed -> InputError.
  void set_history(const std::filesystem::path& path);

  bool empty() const { return matrix_.empty() && probes_.empty(); }
  const MatrixDigest& matrix() const { return matrix_; }
  Json page_data() const;  // everything the page's script reads (reports/html/README.md)

 private:
  struct Seen {  // per merged id: what a duplicate must agree with (kept small: a nightly has 1.4 M)
    Verdict verdict;
    double nmse;
    std::uint32_t ran_on;  // index into ran_on_: backend / kernel / device
    std::uint32_t source;
  };
  struct ProbeRun {
    std::string source;
    Json summary;
    std::string sequence;  // per question in the order the stopping rule saw them (page.hpp legend)
  };

  bool add_folder(const std::filesystem::path& dir);
  void add_report_json(const std::filesystem::path& file);
  void add_results_jsonl(const std::filesystem::path& file);
  void add_probe_files(const std::filesystem::path& probe_json, const std::filesystem::path& probe_jsonl);
  std::uint32_t add_source(const std::string& path, const std::string& kind);
  // False when the id was already merged (same content); throws on a conflict.
  bool admit(const CombinationResult& r, std::uint32_t source);
  Json tonight_figures() const;
  std::string probe_series_name(const ProbeRun& probe) const;

  ReportOptions options_;
  MatrixDigest matrix_;
  std::unordered_map<std::string, Seen> seen_;
  std::vector<std::string> ran_on_;
  std::unordered_map<std::string, std::uint32_t> ran_on_index_;
  std::map<std::string, Verdict> failing_;
  Json sources_ = Json::array();
  std::vector<std::int64_t> source_results_, source_duplicates_;
  std::vector<ProbeRun> probes_;
  std::optional<std::filesystem::path> history_path_;
  std::vector<Night> history_;
};

}  // namespace mxg::report::html
