// Where mxguard finds the data files it ships (the case files and cases/scenarios.json).
//
// Looked up at run time, never baked in as an absolute path of the build machine: the nightly
// workflow hands the built tree to another job, and a binary that only works where it was compiled
// fails there. The places, in order:
//   1. $MXGUARD_DATA, a directory holding `cases/` (an explicit override);
//   2. <directory of the executable>/../share/mxguard, the layout `cmake --install` produces
//      (<prefix>/bin/mxguard beside <prefix>/share/mxguard/cases) and the build tree mirrors
//      (build/<preset>/harness/mxguard beside build/<preset>/share/mxguard/cases, a link to the
//      source's cases/ so edits show without a rebuild).
// If none holds the file, an InputError lists every place tried and how to point mxguard at data.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::data {

// The candidate data directories, in lookup order (existing or not).
std::vector<std::filesystem::path> candidate_dirs();

// `relative` (e.g. "cases/scenarios.json") under the first candidate directory that has it.
// Throws InputError naming `what_for` (the option it serves as default) and every path tried.
std::filesystem::path find_data_file(std::string_view relative, std::string_view what_for);

// The running executable's path (/proc/self/exe); empty if it cannot be read.
std::filesystem::path executable_path();

}  // namespace mxg::data

namespace mxg::data {

// The named-scenarios file for commands that use scenarios only to annotate their findings
// (preflight, diagnose): the option's value when given (empty: none), otherwise the shipped
// cases/scenarios.json; when that cannot be found, none, with one warning line on stderr (the
// command's verdict does not depend on it).
std::string annotation_scenarios(const std::optional<std::string>& given);

}  // namespace mxg::data
