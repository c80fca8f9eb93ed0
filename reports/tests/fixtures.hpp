// Hand-built runs for the reports tests: every verdict, named scenarios, mutants, a NaN metric.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "reports/result.hpp"

namespace mxg::report::testing {

// A result with plausible defaults (tolerance nmse 1e-5, max_rel 5e-2, cosine 0.9999; host backend).
CombinationResult make_result(std::string id, std::string case_name, Verdict verdict, double nmse);

// The reference run of these tests. Matrix results (mutant results left out) by verdict:
//   PASS 3, CAUGHT 3 (one with NaN metrics), FAIL 1, BLIND 1, ERROR 1, SKIPPED 1; plus one FAIL run
//   under the "swap-tile" mutant. Largest PASS NMSE 5e-6, smallest CAUGHT NMSE 4e-5 (margin 8).
//   Scenarios: is-shuffled-flag-lost (CAUGHT), separated-path-tp2 (CAUGHT + BLIND),
//   intermediate-pad-misstated (SKIPPED only). Mutants: swap-tile killed, drop-scale-shuffle survived.
RunSummary sample_run();

// An empty directory under the system temp dir, unique to this process and `name`.
std::filesystem::path fresh_temp_dir(std::string_view name);

// Field-by-field equality with doubles compared by bits (so NaN equals NaN and -0 differs from +0).
bool same_bits(double a, double b);
void expect_same_result(const CombinationResult& a, const CombinationResult& b);
void expect_same_run(const RunSummary& a, const RunSummary& b);

}  // namespace mxg::report::testing
