// Console printer: one line per finished combination while the matrix runs, and a closing summary.
#include "reports/console.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reports/digest.hpp"

namespace mxg::report {

namespace {
std::string joined_or(const std::vector<std::string>& items, std::string_view empty) {
  return items.empty() ? std::string(empty) : fmt::format("{}", fmt::join(items, ", "));
}
}  // namespace

std::string format_console_line(const CombinationResult& r) {
  std::string line = fmt::format("{:<7} {}", verdict_name(r.verdict), r.id);
  if (r.verdict == Verdict::Error || r.verdict == Verdict::Skipped) {
    line += fmt::format("  ({})", one_line(r.message.empty() ? "no reason recorded" : r.message));
  } else {
    line += fmt::format("  nmse={}", format_sci(r.metrics.nmse));
  }
  if (is_mutant_result(r)) line += fmt::format("  [mutant {}]", r.mutant);
  return line;
}

void print_console_line(std::ostream& out, const CombinationResult& r) {
  out << format_console_line(r) << '\n';
  out.flush();
}

std::string format_console_summary(const RunSummary& run, std::size_t max_failures) {
  const Totals t = compute_totals(run);
  std::int64_t total = 0;
  for (const auto& [verdict, n] : t.counts) total += n;

  std::string s = fmt::format("mxguard: {} (exit {})\n", overall_status(t), t.exit_code);
  if (run.interrupted) s += "  interrupted: only the combinations that finished are counted\n";
  s += fmt::format("  verdicts:  {} (total {})\n", total == 0 ? std::string("none") : describe_counts(t.counts), total);
  if (t.mutant_results > 0) {
    s += fmt::format("             not counted: {} run under mutants\n",
                     t.mutant_results == 1 ? "1 combination" : fmt::format("{} combinations", t.mutant_results));
  }
  s += fmt::format("  margin:    {}\n", describe_margin(t));
  if (margin_is_weak(t)) {
    s += fmt::format("  WARNING:   margin below {:g}: tolerances barely separate correct from broken layouts\n",
                     kWeakMarginThreshold);
  }

  const auto scenarios = scenario_outcomes(run);
  if (!scenarios.empty()) {
    std::int64_t caught = 0;
    std::vector<std::string> missed;
    for (const ScenarioOutcome& o : scenarios) {
      if (o.status == ScenarioStatus::Caught) ++caught;
      if (o.status != ScenarioStatus::Caught) {
        missed.push_back(fmt::format("{} {} ({})", o.name, scenario_status_name(o.status), describe_counts(o.counts)));
      }
    }
    s += fmt::format("  scenarios: {} of {} caught{}\n", caught, scenarios.size(),
                     missed.empty() ? "" : "; " + joined_or(missed, ""));
  }
  if (t.mutants_total > 0) {
    std::vector<std::string> names;
    for (const MutantResult* m : surviving_mutants(run)) names.push_back(m->name);
    s += fmt::format("  mutants:   {} of {} killed{}\n", t.mutants_killed, t.mutants_total,
                     names.empty() ? "" : "; survived: " + joined_or(names, ""));
  }

  const auto failures = worst_failures(run);
  if (!failures.empty()) {
    s += "  failures:\n";
    for (std::size_t i = 0; i < failures.size() && i < max_failures; ++i) {
      s += fmt::format("    {}\n      {}\n", failures[i]->id, one_line(one_line_reason(*failures[i])));
    }
    if (failures.size() > max_failures) s += fmt::format("    ... and {} more\n", failures.size() - max_failures);
  }
  s += fmt::format("  ran on:    backend {}; kernels {}; devices {}; wall {:.1f} s\n",
                   run.backend.empty() ? "?" : run.backend, joined_or(distinct_kernels(run), "none recorded"),
                   joined_or(distinct_devices(run), "none recorded"), run.wall_seconds);
  return s;
}

void print_console_summary(std::FILE* out, const RunSummary& run, std::size_t max_failures) {
  std::fputs(format_console_summary(run, max_failures).c_str(), out);
  std::fflush(out);
}

}  // namespace mxg::report
