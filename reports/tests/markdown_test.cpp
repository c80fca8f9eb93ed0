// Tests of the Markdown summary: a golden snapshot of the reference run plus structural checks.
//
// The snapshot is reports/tests/golden/summary.md. After an intended change of the output, rewrite it
// with `MXG_UPDATE_GOLDEN=1 build/<dir>/reports/reports_test --gtest_filter='Markdown.*Golden*'`,
// read the diff, and commit it with the change.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "reports/markdown.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::fresh_temp_dir;
using testing::make_result;
using testing::sample_run;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != haystack.npos; }

TEST(Markdown, SampleRunMatchesTheGoldenFile) {
  const std::filesystem::path golden = std::filesystem::path(MXG_REPORTS_GOLDEN_DIR) / "summary.md";
  const std::string rendered = render_markdown(sample_run());
  const char* update = std::getenv("MXG_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    std::ofstream(golden, std::ios::binary) << rendered;
    GTEST_SKIP() << "rewrote " << golden << "; review the diff before committing";
  }
  ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " missing; see the comment at the top of this file";
  EXPECT_EQ(rendered, slurp(golden)) << "Markdown output changed; if intended, regenerate with MXG_UPDATE_GOLDEN=1";
}

TEST(Markdown, TitleFollowsTheExitCode) {
  RunSummary run;
  run.results = {make_result("a/1", "a", Verdict::Pass, 1e-7), make_result("a/2", "a", Verdict::Caught, 1e-1)};
  EXPECT_EQ(render_markdown(run).rfind("# mxguard: PASS\n", 0), 0u);
  run.results.push_back(make_result("a/3", "a", Verdict::Error, 0));
  EXPECT_EQ(render_markdown(run).rfind("# mxguard: ERROR\n", 0), 0u);
  run.results.push_back(make_result("a/4", "a", Verdict::Blind, 1e-7));
  EXPECT_EQ(render_markdown(run).rfind("# mxguard: REGRESSION\n", 0), 0u);
}

TEST(Markdown, WarnsOnlyWhenTheMarginIsBelowTen) {
  RunSummary run;
  run.results = {make_result("a/1", "a", Verdict::Pass, 1e-6), make_result("a/2", "a", Verdict::Caught, 9e-6)};
  EXPECT_TRUE(contains(render_markdown(run), "**Warning: margin below 10.**"));
  run.results[1].metrics.nmse = 1e-5;  // margin exactly 10
  EXPECT_FALSE(contains(render_markdown(run), "Warning"));
}

TEST(Markdown, InterruptedRunsSaySo) {
  RunSummary run = sample_run();
  EXPECT_FALSE(contains(render_markdown(run), "Interrupted"));
  run.interrupted = true;
  EXPECT_TRUE(contains(render_markdown(run), "**Interrupted**: the run stopped early"));
  // A partial run is never reported green, whatever it finished.
  EXPECT_EQ(compute_totals(run).exit_code, 130);
  EXPECT_FALSE(contains(render_markdown(run), "# mxguard: PASS"));
}

TEST(Markdown, FailureListIsCappedAndOnlyHoldsFailBlindError) {
  RunSummary run;
  for (int i = 0; i < 5; ++i) run.results.push_back(make_result("a/fail" + std::to_string(i), "a", Verdict::Fail, 1));
  run.results.push_back(make_result("a/caught", "a", Verdict::Caught, 1));
  run.results.push_back(make_result("a/skipped", "a", Verdict::Skipped, 0));
  const std::string md = render_markdown(run, {.max_failures = 3});
  EXPECT_TRUE(contains(md, "... and 2 more (see report.json)."));
  EXPECT_FALSE(contains(md, "### CAUGHT"));
  EXPECT_FALSE(contains(md, "### SKIPPED"));
  std::size_t headings = 0;
  for (std::size_t at = md.find("### FAIL"); at != std::string::npos; at = md.find("### FAIL", at + 1)) ++headings;
  EXPECT_EQ(headings, 3u);
}

TEST(Markdown, PipesInNamesDoNotBreakTableRows) {
  RunSummary run;
  CombinationResult r = make_result("a/1", "a", Verdict::Caught, 1e-1);
  r.scenarios = {"left|right"};
  run.results = {r};
  EXPECT_TRUE(contains(render_markdown(run), "| `left\\|right` | 1 | CAUGHT 1 | CAUGHT | caught |"));
}

TEST(StepSummary, UnsetOrEmptyDoesNothing) {
  EXPECT_FALSE(append_step_summary("# x\n", nullptr));
  EXPECT_FALSE(append_step_summary("# x\n", ""));
}

TEST(StepSummary, AppendsAfterWhatOtherStepsWrote) {
  const auto dir = fresh_temp_dir("step-summary");
  const auto path = dir / "step_summary.md";
  std::ofstream(path) << "earlier step output without newline";
  ASSERT_TRUE(append_step_summary("# mxguard: PASS\n", path.c_str()));
  ASSERT_TRUE(append_step_summary("second", path.c_str()));
  EXPECT_EQ(slurp(path), "earlier step output without newline\n# mxguard: PASS\n\nsecond\n");
  // A bad $GITHUB_STEP_SUMMARY turned a passing run into exit 2; now it is a warning.
  EXPECT_FALSE(append_step_summary("x", (dir / "missing-dir" / "f.md").c_str()));
  EXPECT_FALSE(append_step_summary("x", dir.c_str()));  // a directory
  std::filesystem::remove_all(dir);
}

TEST(Markdown, WriteMarkdownWithAStepSummaryWritesBoth) {
  const auto dir = fresh_temp_dir("markdown-and-step");
  const auto step = dir / "step.md";
  write_markdown(dir / "summary.md", sample_run(), step.c_str());
  const std::string md = render_markdown(sample_run());
  EXPECT_EQ(slurp(dir / "summary.md"), md);
  EXPECT_EQ(slurp(step), "\n" + md);
  write_markdown(dir / "again.md", sample_run(), static_cast<const char*>(nullptr));
  EXPECT_EQ(slurp(step), "\n" + md) << "no step summary path: nothing appended";
  std::filesystem::remove_all(dir);
}

TEST(Markdown, WriteMarkdownWritesTheRenderedText) {
  const auto dir = fresh_temp_dir("markdown-write");
  write_markdown(dir / "summary.md", sample_run());
  EXPECT_EQ(slurp(dir / "summary.md"), render_markdown(sample_run()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mxg::report
