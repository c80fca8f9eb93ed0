// Tests of the shared human views: tolerance violations, scenario outcomes, failure order, formats.
#include <limits>

#include <gtest/gtest.h>

#include "reports/digest.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::make_result;
using testing::sample_run;

const Tolerance kTol{.nmse = 1e-5, .max_rel = 5e-2, .cosine = 0.9999};

TEST(ToleranceViolations, NoneWhenEveryMetricHoldsIncludingTheBoundary) {
  const Metrics at_limit{.nmse = 1e-5, .max_rel = 5e-2, .cosine = 0.9999};
  EXPECT_TRUE(tolerance_violations(at_limit, kTol).empty());
}

TEST(ToleranceViolations, NamesEachBrokenCheck) {
  const Metrics bad{.nmse = 2e-5, .max_rel = 0.1, .cosine = 0.9, .nonfinite_kernel = 3, .nonfinite_ref = 1};
  const auto v = tolerance_violations(bad, kTol);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0], "3 non-finite kernel outputs");
  EXPECT_EQ(v[1], "1 non-finite reference outputs");
  EXPECT_EQ(v[2], "nmse 2.000e-05 > 1.000e-05");
  EXPECT_EQ(v[3], "max_rel 1.000e-01 > 5.000e-02");
  EXPECT_EQ(v[4], "cosine 0.900000 < 0.999900");
}

TEST(ToleranceViolations, NaNMetricsAreBroken) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Metrics m{.nmse = nan, .max_rel = nan, .cosine = nan};
  EXPECT_EQ(tolerance_violations(m, kTol).size(), 3u);
}

TEST(DescribeHotspots, ListsTheFirstFewWithPercentages) {
  const std::vector<Hotspot> h = {{3, 7, 0.62}, {3, 8, 0.2}, {5, 1, 0.05}};
  EXPECT_EQ(describe_hotspots(h, 2), "expert 3 tile 7 (62.0%), expert 3 tile 8 (20.0%), 1 more");
  EXPECT_EQ(describe_hotspots(h, 3), "expert 3 tile 7 (62.0%), expert 3 tile 8 (20.0%), expert 5 tile 1 (5.0%)");
  EXPECT_EQ(describe_hotspots({}, 3), "none recorded");
}

TEST(ScenarioOutcomes, CaughtMissedAndNotRun) {
  const auto outcomes = scenario_outcomes(sample_run());
  ASSERT_EQ(outcomes.size(), 3u);  // sorted by name
  EXPECT_EQ(outcomes[0].name, "intermediate-pad-misstated");
  EXPECT_EQ(outcomes[0].status, ScenarioStatus::NotRun);
  EXPECT_EQ(outcomes[1].name, "is-shuffled-flag-lost");
  EXPECT_EQ(outcomes[1].status, ScenarioStatus::Caught);
  EXPECT_EQ(outcomes[1].combinations, 1);
  EXPECT_EQ(outcomes[2].name, "separated-path-tp2");
  EXPECT_EQ(outcomes[2].status, ScenarioStatus::Missed);  // one CAUGHT, one BLIND
  EXPECT_EQ(outcomes[2].combinations, 2);
  EXPECT_EQ(describe_counts(outcomes[2].counts), "CAUGHT 1, BLIND 1");
}

TEST(ScenarioOutcomes, SkippedCombinationsDoNotSpoilACaughtScenario) {
  RunSummary run;
  for (Verdict v : {Verdict::Caught, Verdict::Skipped, Verdict::Caught}) {
    CombinationResult r = make_result("id", "c", v, 1e-1);
    r.scenarios = {"s"};
    run.results.push_back(r);
  }
  EXPECT_EQ(scenario_outcomes(run).at(0).status, ScenarioStatus::Caught);
  run.results[1].verdict = Verdict::Error;
  EXPECT_EQ(scenario_outcomes(run).at(0).status, ScenarioStatus::Missed);
}

TEST(WorstFailures, FailByLargestNmseThenBlindBySmallestThenErrorById) {
  RunSummary run;
  run.results = {make_result("error-b", "c", Verdict::Error, 0), make_result("blind-big", "c", Verdict::Blind, 1e-6),
                 make_result("fail-small", "c", Verdict::Fail, 1e-3), make_result("pass", "c", Verdict::Pass, 1e-7),
                 make_result("error-a", "c", Verdict::Error, 0), make_result("blind-small", "c", Verdict::Blind, 1e-9),
                 make_result("fail-nan", "c", Verdict::Fail, std::numeric_limits<double>::quiet_NaN()),
                 make_result("fail-big", "c", Verdict::Fail, 1e-1), make_result("caught", "c", Verdict::Caught, 1),
                 make_result("skipped", "c", Verdict::Skipped, 0)};
  CombinationResult mutant = make_result("mutant-fail", "c", Verdict::Fail, 1.0);
  mutant.mutant = "m";
  run.results.push_back(mutant);
  std::vector<std::string> ids;
  for (const auto* r : worst_failures(run)) ids.push_back(r->id);
  EXPECT_EQ(ids, (std::vector<std::string>{"fail-nan", "fail-big", "fail-small", "blind-small", "blind-big", "error-a",
                                           "error-b"}));
}

TEST(DescribeMargin, ExplainsAnUndefinedMarginAndTheFloor) {
  Totals t;
  t.counts = {{Verdict::Pass, 2}, {Verdict::Caught, 0}};
  EXPECT_EQ(describe_margin(t),
            "not defined: it needs at least one PASS and one CAUGHT (this run has 2 PASS, 0 CAUGHT)");
  t.margin = 1e27;
  t.smallest_caught_nmse = 1e-3;
  t.largest_pass_nmse = 0;
  EXPECT_EQ(describe_margin(t),
            "1.000e+27 = smallest CAUGHT NMSE 1.000e-03 / largest PASS NMSE 0.000e+00 (floored at 1.000e-30)");
}

TEST(MarginIsWeak, BelowTenOnly) {
  Totals t;
  EXPECT_FALSE(margin_is_weak(t));  // undefined is reported differently, not as weak
  t.margin = 9.99;
  EXPECT_TRUE(margin_is_weak(t));
  t.margin = 10.0;
  EXPECT_FALSE(margin_is_weak(t));
  t.margin = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(margin_is_weak(t));
}

TEST(OverallStatus, FollowsTheExitCode) {
  Totals t;
  t.exit_code = 0;
  EXPECT_EQ(overall_status(t), "PASS");
  t.exit_code = 1;
  EXPECT_EQ(overall_status(t), "REGRESSION");
  t.exit_code = 3;
  EXPECT_EQ(overall_status(t), "ERROR");
}

}  // namespace
}  // namespace mxg::report
