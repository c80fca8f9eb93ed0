// Human-facing views of a run shared by the Markdown, console and JUnit printers: what each verdict
// means, which tolerances a result broke, scenario outcomes, the failure list and number formats.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "reports/result.hpp"

namespace mxg::report {

// A margin below this is shown with a warning: the best-hidden caught bug sits within one order of
// magnitude of the worst correct combination, so a modest tolerance or seed change could flip
// a CAUGHT to BLIND or a PASS to FAIL.
inline constexpr double kWeakMarginThreshold = 10.0;

std::string_view verdict_meaning(Verdict v);  // one short phrase per verdict
// What the verdict means for the person reading the report and what to do about it (a few sentences).
std::string_view verdict_explanation(Verdict v);

// "PASS" (exit 0), "REGRESSION" (exit 1), "ERROR" (exit 3): the run's one-word status.
std::string_view overall_status(const Totals& t);

std::string format_sci(double x);     // 3 significant decimals, e.g. 2.500e-02; nan/inf spelled out
std::string format_cosine(double x);  // 6 decimals: cosines of interest differ in the 4th+
std::string format_percent(double share);

// The checks a result's metrics break ("nmse 2.500e-02 > 1.000e-05", "3 non-finite kernel outputs");
// empty when all hold. NaN metrics count as broken: nothing non-finite passes.
std::vector<std::string> tolerance_violations(const Metrics& m, const Tolerance& t);
// "nmse 2.500e-02 (tol 1.000e-05), max_rel ... (tol ...), cosine ... (min ...), non-finite 0 kernel / 0 reference"
std::string describe_metrics(const Metrics& m, const Tolerance& t);
// "expert 3 tile 7 (62.0%), expert 3 tile 8 (20.0%)" for the first `limit` hotspots; "none recorded" if empty.
std::string describe_hotspots(const std::vector<Hotspot>& hotspots, std::size_t limit = 3);
// `s` with every line break turned into a space: a message that stays on its console or XML line.
std::string one_line(std::string_view s);
// One line on why a non-passing result is what it is (the JUnit message, the console failure line).
std::string one_line_reason(const CombinationResult& r);

// Margin, or why it is undefined, in one sentence.
std::string describe_margin(const Totals& t);
bool margin_is_weak(const Totals& t);  // defined and below kWeakMarginThreshold

// Named historical scenarios must be CAUGHT wherever they are realised.
enum class ScenarioStatus { Caught, Missed, NotRun };
std::string_view scenario_status_name(ScenarioStatus s);  // "caught", "MISSED", "not run"
struct ScenarioOutcome {
  std::string name;
  std::int64_t combinations = 0;
  std::map<Verdict, std::int64_t> counts;  // only verdicts that occurred
  ScenarioStatus status = ScenarioStatus::NotRun;
};
// The status rule below, from a scenario's verdict counts over `combinations` realisations.
ScenarioStatus scenario_status(const std::map<Verdict, std::int64_t>& counts, std::int64_t combinations);
// Sorted by name. Caught: every combination that ran (not SKIPPED) is CAUGHT and at least one ran.
// Missed: some ran combination is anything else. NotRun: all SKIPPED. Mutant results are left out.
std::vector<ScenarioOutcome> scenario_outcomes(const RunSummary& run);
std::string describe_counts(const std::map<Verdict, std::int64_t>& counts);  // "CAUGHT 3, BLIND 1"

// FAIL (largest NMSE first; NaN counts as largest), then BLIND (smallest NMSE first: the most
// invisible bug), then ERROR (by id). Nothing else. Mutant results are left out.
std::vector<const CombinationResult*> worst_failures(const RunSummary& run);
std::vector<const MutantResult*> surviving_mutants(const RunSummary& run);

// Distinct non-empty backend / kernel / device names of the matrix results, in first-seen order.
// The shell command that reruns one result: run.replay_prefix, the id in single quotes, and
// "--out mxguard-replay" (so a replay never overwrites the run's own outputs). "" when the run
// recorded no prefix (reports written before replay existed).
std::string replay_command(const RunSummary& run, const CombinationResult& r);
std::string shell_single_quote(std::string_view s);  // 'it'\''s' form: safe for any bytes but NUL

std::vector<std::string> distinct_backends(const RunSummary& run);
std::vector<std::string> distinct_kernels(const RunSummary& run);
std::vector<std::string> distinct_devices(const RunSummary& run);

}  // namespace mxg::report
