// The files a finished matrix run leaves in its output folder, written the same way by `mxguard
// matrix` and `mxguard merge`: report.json, run.json (report.json without its results: the header
// `merge` reads), junit.xml, report.html, summary.md (and $GITHUB_STEP_SUMMARY), the console summary.
#pragma once

#include <filesystem>
#include <optional>

#include "reports/result.hpp"

namespace mxg::matrix {

void write_run_outputs(const std::filesystem::path& out_dir, const report::RunSummary& summary);

// run.json of a run folder: the RunSummary header (no results), or std::nullopt when the
// file does not exist (a run that never finished). Malformed -> mxg::InputError naming the file.
std::optional<report::RunSummary> read_run_header(const std::filesystem::path& run_json);

}  // namespace mxg::matrix
