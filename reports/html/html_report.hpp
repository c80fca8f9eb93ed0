// report.html beside a run's other outputs: the one call the matrix runner and the probe make.
#pragma once

#include <filesystem>
#include <vector>

#include "reports/probe_result.hpp"
#include "reports/result.hpp"

namespace mxg::report::html {

// The page for one finished (or interrupted) matrix run. Write failures as write_page.
void write_matrix_html(const std::filesystem::path& path, const RunSummary& run);

// The page for one probe run (summary as probe.json holds it, questions as probe.jsonl).
void write_probe_html(const std::filesystem::path& path, const ProbeSummary& summary,
                      const std::vector<ProbeQuestionRecord>& questions);

}  // namespace mxg::report::html
