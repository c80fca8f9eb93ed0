// The one result record of a matrix run (STYLE.md lesson 11: one record, many printers).
// Every writer (results.jsonl, report.json, JUnit XML, Markdown) reads these structs only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::report {

// PASS: derived consistent, measured match. CAUGHT: derived inconsistent, measured mismatch.
// FAIL: consistent but mismatch (regression). BLIND: inconsistent but match (harness cannot see it).
// ERROR: the combination could not run (crash, GPU fault, external command failed).
// SKIPPED: not run on purpose (filtered, unsupported on this backend, known bug) — with a reason.
enum class Verdict : std::uint8_t { Pass, Caught, Fail, Blind, Error, Skipped };
inline constexpr std::array<Verdict, 6> kAllVerdicts = {Verdict::Pass,  Verdict::Caught, Verdict::Fail,
                                                        Verdict::Blind, Verdict::Error,  Verdict::Skipped};
std::string_view verdict_name(Verdict v);                 // "PASS", "CAUGHT", ...
std::optional<Verdict> parse_verdict(std::string_view s);  // inverse

struct Metrics {
  double nmse = 0;         // ||y-r||^2 / ||r||^2 over finite pairs
  double max_rel = 0;      // max|y-r| / RMS(r)
  double cosine = 1;       // cosine similarity
  std::int64_t nonfinite_kernel = 0;  // NaN/Inf count in the kernel output
  std::int64_t nonfinite_ref = 0;     // NaN/Inf count in the reference
};

struct Tolerance {
  double nmse = 0;     // a match needs nmse <= this
  double max_rel = 0;  // and max_rel <= this
  double cosine = 0;   // and cosine >= this
};

// Where the error concentrates: expert and 16-row tile of its down projection (hidden rows).
struct Hotspot {
  std::int64_t expert = 0;
  std::int64_t tile = 0;
  double share = 0;  // fraction of the total squared error
};

struct CombinationResult {
  std::string id;                           // canonical id, e.g. small-a/prep=deinterleaved/.../T=16/seed=0
  std::string case_name;
  std::string shape;                        // e.g. gptoss120b-tp8-r7
  std::map<std::string, std::string> dims;  // dimension name -> value (prep, w_shuffle, s_shuffle, flag, gate, pad)
  std::vector<std::string> scenarios;       // named historical scenarios this combination realises
  std::string mutant;                       // non-empty for --mutants runs
  std::int64_t tokens = 0;
  std::uint64_t seed = 0;
  bool expected_consistent = true;
  std::string derivation;                   // why the derivation says inconsistent (first element off)
  Verdict verdict = Verdict::Skipped;
  Metrics metrics;
  Tolerance tolerance;
  std::vector<Hotspot> hotspots;            // top offenders, for every non-PASS verdict
  std::string message;                      // ERROR / SKIPPED reason, or a one-line summary
  std::string backend, kernel, device;      // what ran it
  double seconds = 0;
};

struct MutantResult {
  std::string name;         // e.g. "swap-tile"
  std::string description;
  bool killed = false;      // some combination that PASSes unmutated stopped passing
  std::int64_t combinations = 0;
  std::int64_t detecting = 0;
};

// Which part of a sharded run this is (--shard K/N), and how many combinations the whole run selected
// before the split, so `mxguard merge` can tell a complete set of shards from one with gaps.
struct ShardInfo {
  std::int64_t index = 1, count = 1;
  std::int64_t selected = 0;  // combinations of the whole (unsharded) selection
  std::int64_t planned = 0;   // combinations of this part
};

struct RunSummary {
  std::string tool_version;
  // What ran, by version: "mxguard" (its own), the kernel's and stack's libraries as the backend,
  // worker handshake or adapter reported them, and "image" (--image, the container digest).
  std::map<std::string, std::string> versions;
  ShardInfo shard;
  std::string replay_prefix;  // a result id appended (shell-quoted) reruns that one combination; "" none
  std::string started_at, finished_at;  // ISO 8601 UTC
  std::string backend;
  std::vector<std::string> case_files;
  bool interrupted = false;
  double wall_seconds = 0;
  std::vector<CombinationResult> results;
  std::vector<MutantResult> mutants;
};

// A combination run under a --mutants kernel mutant is evidence about that mutant (MutantResult), not
// a matrix verdict: its FAIL is the harness doing its job. Totals, JUnit suites and failure lists skip it.
bool is_mutant_result(const CombinationResult& r);

// The margin's denominator is at least this, so an all-exact PASS set (largest NMSE 0, common with
// small-integer inputs) gives a large finite margin instead of a division by zero.
inline constexpr double kMarginNmseFloor = 1e-30;

// Derived figures every printer shows. Matrix results only: results with a mutant are left out.
struct Totals {
  std::map<Verdict, std::int64_t> counts;  // every verdict present as a key, zero when absent
  // Smallest NMSE among CAUGHT over max(largest NMSE among PASS, kMarginNmseFloor); nullopt when
  // either set is empty. A NaN NMSE counts as +infinity on both sides: a CAUGHT found through
  // non-finite output is infinitely far from passing, and a NaN PASS must not flatter the margin
  // (an infinite largest PASS NMSE gives margin 0).
  std::optional<double> margin;
  double largest_pass_nmse = 0, smallest_caught_nmse = 0;
  std::int64_t mutants_killed = 0, mutants_total = 0;
  std::int64_t mutant_results = 0;  // combinations run under a mutant, left out of counts
  int exit_code = 0;  // 130 when interrupted; else 1 on any FAIL or BLIND, 3 if only ERRORs spoil it, else 0
};
Totals compute_totals(const RunSummary& run);

// compute_totals one result at a time, for readers that stream results instead of holding a RunSummary
// (`mxguard report` over a nightly's million results). compute_totals is this over run.results.
class TotalsAccumulator {
 public:
  TotalsAccumulator();
  void add(const CombinationResult& r);
  void add(const MutantResult& m);
  void set_interrupted() { interrupted_ = true; }
  Totals totals() const;

 private:
  Totals t_;
  std::optional<double> largest_pass_, smallest_caught_;
  bool interrupted_ = false;
};

}  // namespace mxg::report
