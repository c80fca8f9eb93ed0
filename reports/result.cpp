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

TotalsAccumulator::TotalsAccumulator() {
  for (Verdict v : kAllVerdicts) t_.counts[v] = 0;
}

void TotalsAccumulator::add(const CombinationResult& r) {
  if (is_mutant_result(r)) {
    ++t_.mutant_results;
    return;
  }
  ++t_.counts[r.verdict];
  const double nmse = nan_as_infinity(r.metrics.nmse);
  if (r.verdict == Verdict::Pass) largest_pass_ = std::max(largest_pass_.value_or(nmse), nmse);
  if (r.verdict == Verdict::Caught) smallest_caught_ = std::min(smallest_caught_.value_or(nmse), nmse);
}

void TotalsAccumulator::add(const MutantResult& m) {
  ++t_.mutants_total;
  if (m.killed) ++t_.mutants_killed;
}

Totals TotalsAccumulator::totals() const {
  Totals t = t_;
  if (largest_pass_) t.largest_pass_nmse = *largest_pass_;
  if (smallest_caught_) t.smallest_caught_nmse = *smallest_caught_;
  if (largest_pass_ && smallest_caught_) {
    // An infinite (or NaN) PASS error leaves nothing to discriminate: margin 0, even against an
    // infinite CAUGHT error, where the plain quotient would be NaN.
    t.margin = std::isinf(*largest_pass_) ? 0.0 : *smallest_caught_ / std::max(*largest_pass_, kMarginNmseFloor);
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
  if (interrupted_) t.exit_code = exit_code::kInterrupted;
  return t;
}

Totals compute_totals(const RunSummary& run) {
  TotalsAccumulator acc;
  for (const CombinationResult& r : run.results) acc.add(r);
  for (const MutantResult& m : run.mutants) acc.add(m);
  if (run.interrupted) acc.set_interrupted();
  return acc.totals();
}

}  // namespace mxg::report
