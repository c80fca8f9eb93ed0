// Snapshot of the Markdown summary of a real `mxguard matrix` run (two small fixed cases on the host
// backend), compared with harness/matrix/tests/golden/matrix_summary.md. reports/tests/golden holds
// the printer's snapshot from a hand-built record; this one covers the whole path: case files,
// derivation, scenarios, measurement and the runner's summary fields.
//
// After an intended change of the output, rewrite the golden file with
//   MXG_UPDATE_GOLDEN=1 build/<dir>/harness/matrix/matrix_runner_e2e_test --gtest_filter='MatrixSummary.*'
// read the diff, and commit it with the change.
//
// Masked before comparing, because they differ from run to run or machine to machine: timestamps, the
// output folder in the report.html line, wall and per-combination seconds, the host's thread count, and
// the two figures that come from the largest PASS NMSE (the margin and that NMSE). A correct
// combination's NMSE is bf16 rounding noise whose last digits follow the Eigen reference's summation
// order, which changes with the CPU's SIMD width; every other number in the summary is a layout error
// of order 1 and does not.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

std::string masked(std::string md) {
  const std::pair<const char*, const char*> rules[] = {
      {R"(started \S+, finished \S+, wall time [0-9.]+ s)", "started <time>, finished <time>, wall time <s> s"},
      {R"(cpu \([0-9]+ threads\))", "cpu (<n> threads)"},
      {R"(- HTML report: `\S+`)", "- HTML report: `<out>/report.html`"},
      {R"((- Ran on: .*), [0-9.]+ s\n)", "$1, <s> s\n"},
      {R"(Margin \S+ = smallest CAUGHT NMSE (\S+) / largest PASS NMSE \S+\.)",
       "Margin <margin> = smallest CAUGHT NMSE $1 / largest PASS NMSE <pass-nmse>."},
  };
  for (const auto& [pattern, replacement] : rules) md = std::regex_replace(md, std::regex(pattern), replacement);
  return md;
}

// Strict: both TP-2 ranks, separated or interleaved tiles and scales, flag on or lost, separated gate
// mode: 16 combinations realising three named scenarios. Loose: tolerance 1e9, so interleaved tiles
// read as separated go unseen (BLIND) and the summary has a failure entry.
void write_snapshot_cases(const std::filesystem::path& dir) {
  TinyCase strict;
  strict.name = "snap-strict";
  strict.tp = 2;
  strict.ranks = {0, 1};
  strict.sweep("weight_shuffle", nlohmann::json::array({"separated-tiles", "interleaved-tiles"}))
      .sweep("scale_shuffle", nlohmann::json::array({"separated", "interleaved"}))
      .sweep("is_shuffled", nlohmann::json::array({true, false}));
  write_case(dir, strict);
  TinyCase loose;
  loose.name = "snap-loose";
  loose.loose().sweep("weight_shuffle", nlohmann::json::array({"separated-tiles", "interleaved-tiles"}));
  write_case(dir, loose);
}

std::string run_summary(const ScratchDir& dir, const std::string& out, const std::string& jobs) {
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", out, "--jobs", jobs}, dir.path());
  EXPECT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 1) << "the snapshot run has a BLIND\n" << run.err;
  return read_text(dir / out / "summary.md");
}

TEST(MatrixSummary, SmallFixedRunMatchesTheGoldenFile) {
  ScratchDir dir;
  write_snapshot_cases(dir / "cases");
  const std::string rendered = masked(run_summary(dir, "out", "1"));
  ASSERT_FALSE(rendered.empty());

  const std::filesystem::path golden = std::filesystem::path(MXG_MATRIX_GOLDEN_DIR) / "matrix_summary.md";
  const char* update = std::getenv("MXG_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    std::filesystem::create_directories(golden.parent_path());
    std::ofstream(golden, std::ios::binary) << rendered;
    GTEST_SKIP() << "rewrote " << golden << "; review the diff before committing";
  }
  ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " missing; see the comment at the top of this file";
  EXPECT_EQ(rendered, read_text(golden))
      << "summary.md of the snapshot run changed; if intended, regenerate with MXG_UPDATE_GOLDEN=1 (see the top of "
         "this file)";
}

TEST(MatrixSummary, DoesNotDependOnTheNumberOfJobs) {
  // Combinations finish in a different order with more jobs; the summary must not show it.
  ScratchDir dir;
  write_snapshot_cases(dir / "cases");
  EXPECT_EQ(masked(run_summary(dir, "one", "1")), masked(run_summary(dir, "two", "2")));
}

TEST(MatrixSummary, MaskingHidesOnlyTheVolatileParts) {
  // The masks must not swallow what the snapshot is for: counts, ids, metrics of the failures.
  const std::string line = "- Ran on: backend `host`, kernel `k`, device `cpu (16 threads)`, 0.01 s\n";
  EXPECT_EQ(masked(line), "- Ran on: backend `host`, kernel `k`, device `cpu (<n> threads)`, <s> s\n");
  const std::string margin = "Margin 3.674e+05 = smallest CAUGHT NMSE 1.034e+00 / largest PASS NMSE 2.814e-06.";
  EXPECT_EQ(masked(margin), "Margin <margin> = smallest CAUGHT NMSE 1.034e+00 / largest PASS NMSE <pass-nmse>.");
  const std::string metrics = "- Metrics: nmse 1.106e+00 (tol 1.000e+09), max_rel 3.408e+00\n| PASS | 3 |\n";
  EXPECT_EQ(masked(metrics), metrics);
}

}  // namespace
}  // namespace mxg::matrix::testing
