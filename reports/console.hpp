// Console printer: one line per finished combination while the matrix runs, and a closing summary.
#pragma once

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>

#include "reports/result.hpp"

namespace mxg::report {

// "FAIL    <id>  nmse=2.500e-02" (verdict padded to 7); ERROR and SKIPPED show their reason instead of
// an NMSE; a mutant run ends with "[mutant <name>]". No trailing newline.
std::string format_console_line(const CombinationResult& r);
// Writes the line plus '\n' and flushes, so progress shows even when stdout is a pipe.
void print_console_line(std::ostream& out, const CombinationResult& r);

// The Markdown summary's facts, compact: status and exit code, verdict counts, margin (with its
// warning), scenarios, mutation score, up to `max_failures` failures, what ran and how long.
std::string format_console_summary(const RunSummary& run, std::size_t max_failures = 10);
// Writes format_console_summary to `out` (e.g. stdout) and flushes.
void print_console_summary(std::FILE* out, const RunSummary& run, std::size_t max_failures = 10);

}  // namespace mxg::report
