// Verdict names and the derived totals (counts, discrimination margin, exit code) of a run.
#include "reports/result.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/common/errors.hpp"

namespace mxg::report {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "PASS";
    case Verdict::Caught: return "CAUGHT";
    case Verdict::Fail: return "FAIL";
    case Verdict::Blind: return "BLIND";
    case Verdict::Error: return "ERROR";
    case Verdict::Skipped: return "SKIPPED";
  }
  return "UNKNOWN";  // unreachable for a valid enum value; keeps -Wreturn-type quiet
}

std::optional<Verdict> parse_verdict(std::string_view s) {
  for (Verdict v : kAllVerdicts) {
    if (verdict_name(v) == s) return v;
  }
  return std::nullopt;
}

bool is_mutant_result(const CombinationResult& r) { return !r.mutant.empty(); }

namespace {
// NaN is ordered as +infinity for the margin (see Totals::margin for why).
double nan_as_infinity(double x) { return std::isnan(x) ? std::numeric_limits<double>::infinity() : x; }
}  // namespace

Totals compute_totals(const RunSummary& run) {
  Totals t;
  for (Verdict v : kAllVerdicts) t.counts[v] = 0;

  std::optional<double> largest_pass, smallest_caught;
  for (const CombinationResult& r : run.results) {
    if (is_mutant_result(r)) {
      ++t.mutant_results;
      continue;
    }
    ++t.counts[r.verdict];
    const double nmse = nan_as_infinity(r.metrics.nmse);
    if (r.verdict == Verdict::Pass) largest_pass = std::max(largest_pass.value_or(nmse), nmse);
    if (r.verdict == Verdict::Caught) smallest_caught = std::min(smallest_caught.value_or(nmse), nmse);
  }
  if (largest_pass) t.largest_pass_nmse = *largest_pass;
  if (smallest_caught) t.smallest_caught_nmse = *smallest_caught;
  if (largest_pass && smallest_caught) {
    // An infinite (or NaN) PASS error leaves nothing to discriminate: margin 0, even against an
    // infinite CAUGHT error, where the plain quotient would be NaN.
    t.margin = std::isinf(*largest_pass) ? 0.0 : *smallest_caught / std::max(*largest_pass, kMarginNmseFloor);
  }

  for (const MutantResult& m : run.mutants) {
    ++t.mutants_total;
    if (m.killed) ++t.mutants_killed;
  }

  if (t.counts[Verdict::Fail] > 0 || t.counts[Verdict::Blind] > 0) {
    t.exit_code = exit_code::kRegression;
  } else if (t.counts[Verdict::Error] > 0) {
    t.exit_code = exit_code::kInfra;
  } else {
    t.exit_code = exit_code::kPass;
  }
  // An interrupted run is not a verdict on what it did not run: the runner exits 130, and every printer
  // must say the same (a partial PASS would read as a green run).
  if (run.interrupted) t.exit_code = exit_code::kInterrupted;
  return t;
}

}  // namespace mxg::report
