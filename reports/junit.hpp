// JUnit XML for CI test reporters: one <testsuite> per case, one <testcase> per combination,
// plus a "mutants" suite. Outcome mapping (DESIGN.md verdicts, STYLE.md lesson 7):
//   PASS, CAUGHT -> passed (CAUGHT is the harness doing its job; a <system-out> line says what it caught)
//   FAIL, BLIND  -> <failure>     ERROR -> <error>     SKIPPED -> <skipped message="reason">
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
