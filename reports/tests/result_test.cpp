// Tests of verdict names and compute_totals: counts, discrimination margin, exit code, mutants.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "reports/result.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::make_result;
using testing::sample_run;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(VerdictName, EveryVerdictHasADistinctUpperCaseNameThatParsesBack) {
  std::set<std::string_view> seen;
  for (Verdict v : kAllVerdicts) {
    const std::string_view name = verdict_name(v);
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_TRUE(std::all_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) << name;
    EXPECT_EQ(parse_verdict(name), v);
  }
  EXPECT_EQ(seen, (std::set<std::string_view>{"PASS", "CAUGHT", "FAIL", "BLIND", "ERROR", "SKIPPED"}));
}

TEST(VerdictName, ParseRejectsOtherSpellings) {
  EXPECT_EQ(parse_verdict("pass"), std::nullopt);
  EXPECT_EQ(parse_verdict(""), std::nullopt);
  EXPECT_EQ(parse_verdict("PASSED"), std::nullopt);
  EXPECT_EQ(parse_verdict(" FAIL"), std::nullopt);
}

TEST(ComputeTotals, CountsTheHandBuiltRunAndLeavesMutantResultsOut) {
  const Totals t = compute_totals(sample_run());
  // The fixture's documented make-up (fixtures.hpp), not a recount by the code under test.
  EXPECT_EQ(t.counts.at(Verdict::Pass), 3);
  EXPECT_EQ(t.counts.at(Verdict::Caught), 3);
  EXPECT_EQ(t.counts.at(Verdict::Fail), 1);
  EXPECT_EQ(t.counts.at(Verdict::Blind), 1);
  EXPECT_EQ(t.counts.at(Verdict::Error), 1);
  EXPECT_EQ(t.counts.at(Verdict::Skipped), 1);
  EXPECT_EQ(t.mutant_results, 1);
  EXPECT_EQ(t.mutants_total, 2);
  EXPECT_EQ(t.mutants_killed, 1);
  EXPECT_EQ(t.largest_pass_nmse, 5e-6);
  EXPECT_EQ(t.smallest_caught_nmse, 4e-5);
  ASSERT_TRUE(t.margin.has_value());
  EXPECT_DOUBLE_EQ(*t.margin, 8.0);
  EXPECT_EQ(t.exit_code, 1);
}

TEST(ComputeTotals, EveryVerdictKeyIsPresentEvenForAnEmptyRun) {
  const Totals t = compute_totals(RunSummary{});
  for (Verdict v : kAllVerdicts) EXPECT_EQ(t.counts.at(v), 0) << verdict_name(v);
  EXPECT_FALSE(t.margin.has_value());
  EXPECT_EQ(t.exit_code, 0);
}

// Margin against an independent computation over random PASS / CAUGHT NMSE sets.
TEST(ComputeTotals, MarginIsSmallestCaughtOverLargestPass) {
  std::mt19937_64 rng(20261125);
  std::uniform_real_distribution<double> log10_nmse(-12.0, 0.0);
  std::uniform_int_distribution<int> count(1, 12);
  for (int trial = 0; trial < 200; ++trial) {
    RunSummary run;
    std::vector<double> pass, caught;
    const int n_pass = count(rng), n_caught = count(rng);
    for (int i = 0; i < n_pass; ++i) pass.push_back(std::pow(10.0, log10_nmse(rng)));
    for (int i = 0; i < n_caught; ++i) caught.push_back(std::pow(10.0, log10_nmse(rng)));
    // Interleave them with noise verdicts that must not matter.
    for (double x : pass) run.results.push_back(make_result("p", "c", Verdict::Pass, x));
    run.results.push_back(make_result("f", "c", Verdict::Fail, 1e3));
    for (double x : caught) run.results.push_back(make_result("k", "c", Verdict::Caught, x));
    run.results.push_back(make_result("b", "c", Verdict::Blind, 1e-20));
    const double expected = *std::min_element(caught.begin(), caught.end()) /
                            *std::max_element(pass.begin(), pass.end());
    const Totals t = compute_totals(run);
    ASSERT_TRUE(t.margin.has_value());
    EXPECT_DOUBLE_EQ(*t.margin, expected) << "trial " << trial;
  }
}

TEST(ComputeTotals, MarginIsUndefinedWithoutBothPassAndCaught) {
  RunSummary only_pass;
  only_pass.results = {make_result("p", "c", Verdict::Pass, 1e-6)};
  EXPECT_FALSE(compute_totals(only_pass).margin.has_value());
  RunSummary only_caught;
  only_caught.results = {make_result("k", "c", Verdict::Caught, 1e-1)};
  EXPECT_FALSE(compute_totals(only_caught).margin.has_value());
}

TEST(ComputeTotals, ExactPassesUseTheDocumentedFloor) {
  RunSummary run;
  run.results = {make_result("p", "c", Verdict::Pass, 0.0), make_result("k", "c", Verdict::Caught, 1e-3)};
  const Totals t = compute_totals(run);
  ASSERT_TRUE(t.margin.has_value());
  EXPECT_DOUBLE_EQ(*t.margin, 1e-3 / 1e-30);
  EXPECT_EQ(t.largest_pass_nmse, 0.0);  // the true value is reported; only the quotient is floored
}

TEST(ComputeTotals, NaNCaughtCountsAsInfinitelyFarAndNaNPassGivesZero) {
  RunSummary run;
  run.results = {make_result("p", "c", Verdict::Pass, 1e-6), make_result("k1", "c", Verdict::Caught, kNaN),
                 make_result("k2", "c", Verdict::Caught, 1e-2)};
  EXPECT_DOUBLE_EQ(*compute_totals(run).margin, 1e-2 / 1e-6);

  run.results = {make_result("p", "c", Verdict::Pass, 1e-6), make_result("k", "c", Verdict::Caught, kNaN)};
  EXPECT_EQ(*compute_totals(run).margin, kInf);

  run.results = {make_result("p1", "c", Verdict::Pass, 1e-6), make_result("p2", "c", Verdict::Pass, kNaN),
                 make_result("k", "c", Verdict::Caught, kNaN)};
  const Totals t = compute_totals(run);
  EXPECT_EQ(t.largest_pass_nmse, kInf);
  EXPECT_EQ(*t.margin, 0.0);
}

// All 64 subsets of verdicts: the exit code follows DESIGN.md "Exit codes" for each.
TEST(ComputeTotals, ExitCodeForEverySubsetOfVerdicts) {
  for (unsigned mask = 0; mask < 64; ++mask) {
    RunSummary run;
    bool regression = false, error = false;
    for (std::size_t i = 0; i < kAllVerdicts.size(); ++i) {
      if (!(mask & (1u << i))) continue;
      const Verdict v = kAllVerdicts[i];
      run.results.push_back(make_result("id", "c", v, 1e-6));
      regression = regression || v == Verdict::Fail || v == Verdict::Blind;
      error = error || v == Verdict::Error;
    }
    const int expected = regression ? 1 : error ? 3 : 0;
    EXPECT_EQ(compute_totals(run).exit_code, expected) << "mask " << mask;
  }
}

TEST(ComputeTotals, MutantResultsChangeNeitherCountsNorExitCodeNorMargin) {
  RunSummary run;
  run.results = {make_result("p", "c", Verdict::Pass, 1e-6), make_result("k", "c", Verdict::Caught, 1e-2)};
  CombinationResult mutant_fail = make_result("m", "c", Verdict::Fail, 1e-1);
  mutant_fail.mutant = "swap-tile";
  CombinationResult mutant_pass = make_result("m2", "c", Verdict::Pass, 1e-3);  // would shrink the margin
  mutant_pass.mutant = "swap-tile";
  run.results.push_back(mutant_fail);
  run.results.push_back(mutant_pass);
  const Totals t = compute_totals(run);
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_EQ(t.counts.at(Verdict::Fail), 0);
  EXPECT_EQ(t.counts.at(Verdict::Pass), 1);
  EXPECT_EQ(t.mutant_results, 2);
  EXPECT_DOUBLE_EQ(*t.margin, 1e-2 / 1e-6);
}

}  // namespace
}  // namespace mxg::report
