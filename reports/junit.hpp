// JUnit XML for CI test reporters: one <testsuite> per case, one <testcase> per layout group of it
// (the case's combinations sharing every layout dimension: prep, shuffles, is_shuffled, gate mode,
// padding; they differ in shape, tokens, routing, inputs, seed), plus a "mutants" suite. A group's
// outcome (DESIGN.md verdicts, STYLE.md lesson 7):
//   any FAIL or BLIND member -> <failure> listing those members (then any ERROR members) in detail
//   else any ERROR member    -> <error> listing them       every member SKIPPED -> <skipped>
//   else (PASS, CAUGHT)      -> passed, a <system-out> line with the member counts; no per-member detail
//   mutant killed -> passed       mutant survived -> <failure message="survived">
// Combinations run under a mutant are evidence for the mutants suite, not testcases of their own.
#pragma once

#include <filesystem>
#include <string>

#include "reports/result.hpp"

namespace mxg::report {

std::string render_junit(const RunSummary& run);
// Atomic replace (see write_file_atomically). Cannot create -> mxg::InputError; write fails -> mxg::InfraError.
void write_junit(const std::filesystem::path& path, const RunSummary& run);

}  // namespace mxg::report
