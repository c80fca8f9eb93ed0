// What the HTML report shows of matrix runs, built one result at a time so that a nightly's million
// results never sit in memory as full records: totals, the verdict heatmap (rows case x shape x
// tokens, columns the layout combination), failure groups, the NMSE distribution, named scenarios and
// mutants. to_json() is the "matrix" part of the page data (reports/html/README.md lists its keys).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "reports/json_io.hpp"
#include "reports/result.hpp"

namespace mxg::report::html {

struct DigestOptions {
  // Heatmap cells (rows x columns) drawn at most. Beyond it the innermost layout dimensions are merged
  // into their cells (then the token counts of a row), each merged cell showing its worst verdict
  // and the counts behind it: this is what keeps the nightly page under ~2 MB.
  // 36000 keeps cases/nightly (492 rows) split down to is_shuffled: 72 columns, gate and padding merged.
  std::size_t cell_budget = 36000;
  // Heatmaps of at most this many cells carry every cell's full details (metrics, hotspots, message);
  // larger ones carry them for FAIL/BLIND/ERROR cells only and the NMSE and id for the rest.
  std::size_t detail_cells = 5000;
  std::size_t failure_details = 1000;  // FAIL/BLIND/ERROR results listed in full, worst first
};

// One matrix run (a report.json or results.jsonl), without its results.
struct RunInfo {
  std::string source;  // the file it came from
  std::string tool_version, started_at, finished_at, backend;
  std::vector<std::string> case_files;
  bool interrupted = false;
  double wall_seconds = 0;
};

// A result as the page shows it when it is opened: everything but the dimension map.
struct ResultDetail {
  std::string id;
  Verdict verdict = Verdict::Skipped;
  Metrics metrics;
  std::uint32_t tolerance = 0;  // index into the digest's tolerance table
  std::vector<Hotspot> hotspots;  // at most kDetailHotspots
  std::string message, derivation;
  bool expected_consistent = true;
  std::string backend, kernel, device;
  double seconds = 0;
  std::uint32_t run = 0;
  std::uint32_t row = 0, col = 0;  // fine heatmap row and column
  std::vector<std::string> scenarios;
};
inline constexpr std::size_t kDetailHotspots = 3;

// FAIL, then BLIND, then ERROR, then CAUGHT, PASS, SKIPPED: the verdict a merged cell shows.
int verdict_severity(Verdict v);
// Whether `a` should represent a cell rather than `b`: the more severe verdict, then within a verdict
// the result nearest the other side of the tolerance (largest NMSE for PASS and FAIL, smallest for
// CAUGHT and BLIND; NaN as +infinity), then the smaller id.
bool represents_before(Verdict va, double nmse_a, const std::string& id_a, Verdict vb, double nmse_b,
                       const std::string& id_b);

class MatrixDigest {
 public:
  explicit MatrixDigest(DigestOptions options = {});

  std::uint32_t add_run(RunInfo run);  // returns the run index results refer to
  // Replaces a run's fields once they are known (report.json is streamed: results come first).
  void set_run(std::uint32_t index, RunInfo run);
  void add_result(const CombinationResult& r, std::uint32_t run);
  // Mutants of one run; the same mutant in several runs (shards) adds up.
  void add_mutants(const std::vector<MutantResult>& mutants);

  bool empty() const { return runs_.empty(); }
  std::int64_t results() const { return results_; }
  Totals totals() const;
  Json to_json() const;
  Json runs_json() const;

 private:
  struct FineRow {
    std::string case_name, shape;
    std::int64_t tokens = 0;
    std::vector<std::string> prefix;  // id segments every result of the row starts with
    bool prefix_set = false;
    std::size_t min_segments = 0;     // of its ids
  };
  struct FineCol {
    std::map<std::string, std::string> dims;  // column dimensions only
    std::vector<std::string> suffix;           // id segments every result of the column ends with
    bool suffix_set = false;
  };
  struct Cell {
    std::array<std::int64_t, 6> counts{};
    std::uint32_t rep = 0;  // index into reps_
  };
  struct Compact {  // one matrix result, for failure grouping
    std::uint32_t row, col, routing, inputs, seed;
    Verdict verdict;
  };
  struct Scenario {
    std::map<Verdict, std::int64_t> counts;
    std::int64_t combinations = 0;
    std::map<std::uint32_t, std::map<Verdict, std::int64_t>> by_row;
    std::vector<std::string> missed;  // first few ids realising it that were not CAUGHT
  };
  struct Mutant {
    MutantResult summary;
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_row;  // row label -> detected, ran
  };

  ResultDetail detail_of(const CombinationResult& r, std::uint32_t run, std::uint32_t row, std::uint32_t col);
  std::uint32_t row_of(const CombinationResult& r);
  std::uint32_t col_of(const CombinationResult& r);
  static std::uint32_t intern_cell_value(std::vector<std::string>& table,
                                         std::unordered_map<std::string, std::uint32_t>& index, const std::string& value);
  void keep_failure(ResultDetail d);

  Json histogram_json() const;
  Json scenarios_json() const;
  Json mutants_json() const;
  // A result's details as the page stores them: an array (kDetailFields) whose strings are indices into
  // `texts` (interned: the same derivation or device is stored once).
  Json detail_json(const ResultDetail& d, std::vector<std::string>& texts,
                   std::unordered_map<std::string, std::uint32_t>& text_index) const;
  std::string row_label(std::uint32_t fine_row) const;

  DigestOptions options_;
  std::vector<RunInfo> runs_;
  TotalsAccumulator totals_;  // interruption is applied when the totals are read (runs can change)
  std::int64_t results_ = 0;

  std::vector<FineRow> rows_;
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::uint32_t> row_index_;
  std::vector<FineCol> cols_;
  std::map<std::map<std::string, std::string>, std::uint32_t> col_index_;
  std::vector<std::string> col_dim_names_;  // every column dimension seen
  std::unordered_map<std::uint64_t, Cell> cells_;
  std::vector<ResultDetail> reps_;

  std::vector<Compact> compact_;
  std::vector<std::string> routings_, inputs_, seeds_;
  std::unordered_map<std::string, std::uint32_t> routing_index_, inputs_index_, seed_index_;

  std::vector<ResultDetail> failures_;  // worst kept when there are too many
  std::map<Verdict, std::int64_t> failure_counts_;
  std::vector<Tolerance> tolerances_;
  std::vector<std::int64_t> tolerance_counts_;
  std::vector<std::string> backends_, kernels_, devices_;

  // NMSE distribution: bins of kHistogramBinDecades decades, keyed by floor(log10(nmse) / width).
  std::map<Verdict, std::map<std::int64_t, std::int64_t>> histogram_;
  std::map<Verdict, std::int64_t> zero_nmse_, nonfinite_nmse_;

  std::map<std::string, Scenario> scenarios_;
  std::map<std::string, Mutant> mutants_;
};
inline constexpr double kHistogramBinDecades = 0.1;
// The fields of a detail array, in order (the page's script reads them by position).
inline constexpr const char* kDetailFields[] = {"nmse",      "max_rel",    "cosine",     "nonfinite_kernel",
                                                "nonfinite_ref", "tolerance", "hotspots", "message",
                                                "derivation", "consistent", "ran_on",   "seconds",
                                                "run",       "scenarios"};

}  // namespace mxg::report::html
