// Markdown run summary for people: the file beside the reports and the GitHub Actions step summary.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "reports/result.hpp"

namespace mxg::report {

struct MarkdownOptions {
  std::size_t max_failures = 20;  // longer failure lists end with "... and N more (see report.json)"
  std::string html_report;        // non-empty: a line pointing at the run's report.html
};

// Title "# mxguard: PASS|REGRESSION|ERROR", run facts, verdict counts, discrimination margin (with a
// warning below kWeakMarginThreshold), named scenarios, mutation score, worst failures. Deterministic:
// everything comes from `run`, so the output can be compared with a golden file.
std::string render_markdown(const RunSummary& run, const MarkdownOptions& options = {});

// Atomic replace. Cannot create -> mxg::InputError; write fails -> mxg::InfraError.
void write_markdown(const std::filesystem::path& path, const RunSummary& run, const MarkdownOptions& options = {});

// write_markdown, then append_step_summary of the same text: the runner's one call at the end of a run,
// `write_markdown(dir / "summary.md", run, std::getenv("GITHUB_STEP_SUMMARY"))`.
void write_markdown(const std::filesystem::path& path, const RunSummary& run, const char* step_summary_path,
                    const MarkdownOptions& options = {});

// Appends `markdown` to the file named by `step_summary_path`, the value of $GITHUB_STEP_SUMMARY
// (pass std::getenv("GITHUB_STEP_SUMMARY")). Null or empty: does nothing and returns false.
// Any failure (not a regular file, cannot open, write fails) is a warning on stderr and returns false:
// the step summary never changes a run's verdict.
bool append_step_summary(std::string_view markdown, const char* step_summary_path);

}  // namespace mxg::report
