// Markdown run summary for people: the file beside the reports and the GitHub Actions step summary.
#include "reports/markdown.hpp"

#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/errors.hpp"
#include "reports/digest.hpp"
#include "reports/file_io.hpp"

namespace mxg::report {

namespace {

// Table cells and list items are single lines; '|' would end a table cell early.
std::string inline_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (c == '|') {
      out += "\\|";
    } else {
      out += c;
    }
  }
  return out;
}

std::string code(std::string_view s) {
  const std::string text = inline_text(s);
  // A backtick inside needs a longer fence (and spaces so a leading/trailing backtick stays content).
  if (text.find('`') != std::string::npos) return "`` " + text + " ``";
  return "`" + text + "`";
}

std::string code_list(const std::vector<std::string>& items) {
  if (items.empty()) return "none recorded";
  std::vector<std::string> parts;
  for (const auto& s : items) parts.push_back(code(s));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string_view exit_explanation(int exit_code) {
  switch (exit_code) {
    case 0: return "no FAIL, BLIND or ERROR";
    case 1: return "at least one FAIL or BLIND";
    default: return "no FAIL or BLIND, but at least one ERROR (infrastructure)";
  }
}

void run_facts(std::string& md, const RunSummary& run, const Totals& t, const MarkdownOptions& options) {
  md += fmt::format("Exit code {}: {}.\n\n", t.exit_code, exit_explanation(t.exit_code));
  if (run.interrupted) {
    md += "**Interrupted**: the run stopped early; only the combinations that finished are counted.\n\n";
  }
  md += fmt::format("- Backend: {}; kernels: {}; devices: {}\n", code(run.backend), code_list(distinct_kernels(run)),
                    code_list(distinct_devices(run)));
  md += fmt::format("- Cases: {}\n", code_list(run.case_files));
  md += fmt::format("- mxguard {}, started {}, finished {}, wall time {:.1f} s\n", inline_text(run.tool_version),
                    inline_text(run.started_at), inline_text(run.finished_at), run.wall_seconds);
  if (!run.versions.empty()) {
    std::vector<std::string> parts;
    for (const auto& [name, version] : run.versions) parts.push_back(fmt::format("{} {}", name, version));
    md += fmt::format("- Versions: {}\n", code_list(parts));
  }
  if (run.shard.count > 1) {
    md += fmt::format("- Shard {}/{}: {} of the {} selected combinations\n", run.shard.index, run.shard.count,
                      run.shard.planned, run.shard.selected);
  }
  if (!options.html_report.empty()) md += fmt::format("- HTML report: {}\n", code(options.html_report));
  md += "\n";
}

void verdict_table(std::string& md, const Totals& t) {
  md += "## Verdicts\n\n| verdict | count | meaning |\n|---|---:|---|\n";
  std::int64_t total = 0;
  for (Verdict v : kAllVerdicts) {
    const std::int64_t n = t.counts.contains(v) ? t.counts.at(v) : 0;
    total += n;
    md += fmt::format("| {} | {} | {} |\n", verdict_name(v), n, verdict_meaning(v));
  }
  md += fmt::format("| total | {} | |\n\n", total);
  if (t.mutant_results > 0) {
    md += fmt::format("{} run under kernel mutants {} counted in the mutation score, not here.\n\n",
                      t.mutant_results == 1 ? "1 combination" : fmt::format("{} combinations", t.mutant_results),
                      t.mutant_results == 1 ? "is" : "are");
  }
}

void margin_section(std::string& md, const Totals& t) {
  md += "## Discrimination margin\n\n";
  md += fmt::format("Margin {}.\n\n", describe_margin(t));
  if (margin_is_weak(t)) {
    md += fmt::format(
        "**Warning: margin below {:g}.** The least visible caught bug is within {:g}x of the worst correct "
        "combination, so the tolerances barely separate right from wrong: a small change of tolerance, seed or "
        "shape could turn a CAUGHT into BLIND or a PASS into FAIL. Recalibrate the tolerances or add inputs that "
        "make the bug class louder.\n\n",
        kWeakMarginThreshold, kWeakMarginThreshold);
  }
}

void scenario_section(std::string& md, const RunSummary& run) {
  md += "## Named scenarios\n\n";
  const auto outcomes = scenario_outcomes(run);
  if (outcomes.empty()) {
    md += "No combination in this run realises a named scenario.\n\n";
    return;
  }
  md += "| scenario | combinations | verdicts | required | status |\n|---|---:|---|---|---|\n";
  for (const ScenarioOutcome& s : outcomes) {
    md += fmt::format("| {} | {} | {} | CAUGHT | {} |\n", code(s.name), s.combinations, describe_counts(s.counts),
                      scenario_status_name(s.status));
  }
  md += "\n";
}

void mutation_section(std::string& md, const RunSummary& run, const Totals& t) {
  md += "## Mutation score\n\n";
  if (t.mutants_total == 0) {
    md += "No mutants were run.\n\n";
    return;
  }
  md += fmt::format("Killed {} of {} ({:.0f}%).\n\n", t.mutants_killed, t.mutants_total,
                    100.0 * static_cast<double>(t.mutants_killed) / static_cast<double>(t.mutants_total));
  // Per mutant, how many of the combinations it ran in detected it: a mutant killed only at larger
  // T is a sensitivity limit of the smaller cases worth knowing about, even though it counts as killed.
  md += "| mutant | injected bug | detected in | status |\n|---|---|---:|---|\n";
  for (const MutantResult& m : run.mutants) {
    md += fmt::format("| {} | {} | {} of {} | {} |\n", code(m.name), inline_text(m.description), m.detecting,
                      m.combinations, m.killed ? "killed" : "**survived**");
  }
  md += "\n";
  if (!surviving_mutants(run).empty())
    md += "A survivor is a finding: add a case that exposes it or tighten a tolerance (cases/README.md).\n\n";
}

void failure_entry(std::string& md, const RunSummary& run, const CombinationResult& r) {
  md += fmt::format("### {} {}\n\n", verdict_name(r.verdict), code(r.id));
  md += fmt::format("- Why: {}\n", inline_text(one_line_reason(r)));
  if (r.verdict != Verdict::Error) {
    md += fmt::format("- Metrics: {}\n", describe_metrics(r.metrics, r.tolerance));
    md += fmt::format("- Localisation: {}\n", describe_hotspots(r.hotspots, 5));
    md += fmt::format("- Derivation: {}{}\n", r.expected_consistent ? "consistent" : "inconsistent",
                      r.derivation.empty() ? "" : " (" + inline_text(r.derivation) + ")");
  }
  md += fmt::format("- Ran on: backend {}, kernel {}, device {}, {:.2f} s\n", code(r.backend), code(r.kernel),
                    code(r.device), r.seconds);
  if (!r.message.empty() && r.verdict != Verdict::Error) md += fmt::format("- Message: {}\n", inline_text(r.message));
  // Last, so every non-PASS entry ends with the exact command that reruns it.
  if (const std::string replay = replay_command(run, r); !replay.empty()) md += fmt::format("- Replay: {}\n", code(replay));
  md += "\n";
}

void failure_section(std::string& md, const RunSummary& run, const MarkdownOptions& options) {
  md += "## Failures\n\n";
  const auto failures = worst_failures(run);
  if (failures.empty()) {
    md += "None: no FAIL, BLIND or ERROR.\n";
    return;
  }
  for (std::size_t i = 0; i < failures.size() && i < options.max_failures; ++i) failure_entry(md, run, *failures[i]);
  if (failures.size() > options.max_failures) {
    md += fmt::format("... and {} more (see report.json).\n", failures.size() - options.max_failures);
  }
}

}  // namespace

std::string render_markdown(const RunSummary& run, const MarkdownOptions& options) {
  const Totals t = compute_totals(run);
  std::string md = fmt::format("# mxguard: {}\n\n", overall_status(t));
  run_facts(md, run, t, options);
  verdict_table(md, t);
  margin_section(md, t);
  scenario_section(md, run);
  mutation_section(md, run, t);
  failure_section(md, run, options);
  return md;
}

void write_markdown(const std::filesystem::path& path, const RunSummary& run, const MarkdownOptions& options) {
  write_file_atomically(path, render_markdown(run, options));
}

void write_markdown(const std::filesystem::path& path, const RunSummary& run, const char* step_summary_path,
                    const MarkdownOptions& options) {
  const std::string md = render_markdown(run, options);
  write_file_atomically(path, md);
  append_step_summary(md, step_summary_path);
}

bool append_step_summary(std::string_view markdown, const char* step_summary_path) {
  if (step_summary_path == nullptr || *step_summary_path == '\0') return false;
  // Other steps append to the same file and may not end theirs with a newline: the leading blank
  // line keeps our title a heading; the trailing newline is owed to whoever appends next.
  const bool ends_with_newline = !markdown.empty() && markdown.back() == '\n';
  // The step summary is a courtesy to the CI page: a bad $GITHUB_STEP_SUMMARY (a folder, a FIFO, no
  // permission, a full disk) is a warning and never changes the run's verdict or exit code.
  try {
    struct stat st {};
    if (::stat(step_summary_path, &st) == 0 && !S_ISREG(st.st_mode)) {
      throw InputError(fmt::format("{}: not a regular file", step_summary_path));
    }
    append_to_file(step_summary_path, fmt::format("\n{}{}", markdown, ends_with_newline ? "" : "\n"));
  } catch (const std::exception& e) {
    fmt::print(stderr, "mxguard: warning: $GITHUB_STEP_SUMMARY not written: {}\n", e.what());
    return false;
  }
  return true;
}

}  // namespace mxg::report
