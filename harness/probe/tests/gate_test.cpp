// Tests of the pre-merge gate: its critical count, its exact operating characteristics, and the exact
// power of the paired test. Every expectation is computed here independently of gate.cpp: by
// brute-force enumeration of answer sequences, by Monte Carlo with the test's own rule written out from
// the raw parameters (std::mt19937_64, not the code's generator), by Boost's binomial CDF, or by a hand
// sum of the McNemar tail.
#include "harness/probe/gate.hpp"

#include <gtest/gtest.h>

#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <functional>
#include <random>
#include <string>

#include "harness/probe/tests/expect_input_error.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

using testing::expect_input_error;

// The rule as gate.hpp states it, from the raw parameters: the result of one run of answers.
struct ByHandRun {
  bool fail = false;
  bool collapse = false;
  std::int64_t questions = 0;
};
ByHandRun rule_by_hand(const GateConfig& c, std::int64_t min_correct, const std::function<bool()>& next_answer) {
  const double up = -std::log(c.collapse_alpha);
  const double right = std::log(c.p_collapse / c.p_good), wrong = std::log((1 - c.p_collapse) / (1 - c.p_good));
  std::int64_t k = 0;
  for (std::int64_t n = 1; n <= c.questions; ++n) {
    if (next_answer()) ++k;
    if (k * right + (n - k) * wrong >= up) return {true, true, n};
    if (k + (c.questions - n) < min_correct) return {true, false, n};
  }
  return {k < min_correct, false, c.questions};
}

double binomial_cdf(std::int64_t n, double p, std::int64_t k) {
  if (k < 0) return 0.0;
  return boost::math::cdf(boost::math::binomial_distribution<double>(static_cast<double>(n), p), static_cast<double>(k));
}

TEST(GatePlan, DefaultsKeepTheFalseFailureRateWithinOnePerMille) {
  const GatePlan plan = plan_gate(GateConfig{});
  const GateConfig& c = plan.config;
  EXPECT_EQ(c.questions, 400);
  EXPECT_LE(plan.false_failure, 0.001);
  // The final test alone fails a healthy server with P[Bin(400, 0.88) < min_correct]; the collapse stage
  // adds at most its Ville bound.
  const double final_only = binomial_cdf(400, 0.88, plan.min_correct - 1);
  EXPECT_GE(plan.false_failure, final_only - 1e-12);
  EXPECT_LE(plan.false_failure, final_only + c.collapse_alpha);
  // Maximal: one more required answer is over budget even for the final test alone... or with the
  // collapse stage's share (which is at least 0).
  EXPECT_GT(binomial_cdf(400, 0.88, plan.min_correct) + c.collapse_alpha, 0.001);
  const GatePlan stricter = [&] {
    GatePlan p = plan;
    ++p.min_correct;
    return p;
  }();
  EXPECT_GT(exact_gate_oc(0.88, stricter).p_fail, 0.001);
}

// The published tables (STATISTICS.md "The pre-merge gate", README): every entry at its printed
// precision, so the documents and the code cannot drift apart.
TEST(GateOc, PublishedTablesAreWhatTheCodeComputes) {
  struct Row {
    double p, fail, questions, collapse;
  };
  const GatePlan plan = plan_gate(GateConfig{});
  EXPECT_EQ(plan.min_correct, 331);
  for (const Row& r : {Row{0.88, 0.000898, 399.96, 0.000072}, Row{0.79, 0.964753, 331.90, 0.002839},
                       Row{0.75, 0.999871, 277.58, 0.009979}, Row{0.5, 1.0, 39.61, 0.967850},
                       Row{0.21, 1.0, 8.11, 1.0}, Row{0.04, 1.0, 5.43, 1.0}}) {
    const GateOc oc = exact_gate_oc(r.p, plan);
    EXPECT_NEAR(oc.p_fail, r.fail, 5e-7) << r.p;
    EXPECT_NEAR(oc.expected_questions, r.questions, 5e-3) << r.p;
    EXPECT_NEAR(oc.p_collapse_stop, r.collapse, 5e-7) << r.p;
  }
  GateConfig split;
  split.alpha = 0.0005;  // with a baseline: half the budget
  const GatePlan paired_plan = plan_gate(split);
  EXPECT_EQ(paired_plan.min_correct, 329);
  EXPECT_NEAR(paired_plan.false_failure, 0.000383, 5e-7);
  EXPECT_NEAR(exact_gate_oc(0.79, paired_plan).p_fail, 0.940, 5e-4);
  EXPECT_NEAR(exact_gate_oc(0.75, paired_plan).p_fail, 0.9997, 5e-5);
  EXPECT_NEAR(exact_gate_oc(0.79, paired_plan).expected_questions, 341, 0.5);
  const struct {
    double lost, gained, fail;
  } paired[] = {{0.01, 0.01, 0.000057}, {0.02, 0.02, 0.000219}, {0.05, 0.05, 0.000284}, {0.05, 0.0, 0.990601},
                {0.06, 0.01, 0.715470}, {0.07, 0.02, 0.489947}, {0.10, 0.05, 0.202234}};
  for (const auto& r : paired) {
    EXPECT_NEAR(exact_paired_fail_probability(400, r.lost, r.gained, 0.001), r.fail, 5e-7) << r.lost << " " << r.gained;
  }
  // 200 questions: the power the default of 400 is chosen to beat.
  GateConfig short_set;
  short_set.questions = 200;
  const GatePlan short_plan = plan_gate(short_set);
  EXPECT_EQ(short_plan.min_correct, 161);
  EXPECT_NEAR(exact_gate_oc(0.79, short_plan).p_fail, 0.66, 5e-3);
}

TEST(GateOc, TheCollapseStageRespectsItsVilleBoundAtTheHealthyAccuracy) {
  for (const double a : {0.0002, 0.001, 0.01}) {
    GateConfig c;
    c.collapse_alpha = a;
    c.alpha = std::max(a, 0.001);
    GatePlan plan = plan_gate(c);
    plan.min_correct = 0;  // the collapse stage alone
    EXPECT_LE(exact_gate_oc(0.88, plan).p_fail, a) << a;
    EXPECT_GT(exact_gate_oc(0.88, plan).p_fail, 0.0) << a;
  }
}

TEST(GateOc, ExactEqualsBruteForceEnumerationOfEveryAnswerSequence) {
  // 12 questions: all 4096 answer sequences, each weighted by its probability.
  GateConfig c{0.8, 0.2, 0.01, 0.2, 12};
  const GatePlan plan = plan_gate(c);
  ASSERT_GT(plan.min_correct, 0);
  for (const double p : {0.8, 0.6, 0.3, 0.05}) {
    double p_fail = 0, p_collapse = 0, e_questions = 0;
    for (int bits = 0; bits < (1 << 12); ++bits) {
      int i = 0, right = 0;
      const auto run = rule_by_hand(c, plan.min_correct, [&] { return ((bits >> i++) & 1) != 0; });
      // Only the answers the rule read carry probability; the rest are summed out. Weight the sequence
      // by all 12 answers, so each full sequence is counted once.
      double w = 1;
      for (int j = 0; j < 12; ++j) {
        const bool r = ((bits >> j) & 1) != 0;
        right += r;
        w *= r ? p : 1 - p;
      }
      p_fail += run.fail ? w : 0;
      p_collapse += run.collapse ? w : 0;
      e_questions += w * static_cast<double>(run.questions);
    }
    const GateOc oc = exact_gate_oc(p, plan);
    EXPECT_NEAR(oc.p_fail, p_fail, 1e-12) << p;
    EXPECT_NEAR(oc.p_collapse_stop, p_collapse, 1e-12) << p;
    EXPECT_NEAR(oc.expected_questions, e_questions, 1e-10) << p;
  }
}

TEST(GateOc, MonteCarloOfTheRuleWrittenOutMatchesTheExactNumbers) {
  const GatePlan plan = plan_gate(GateConfig{});
  std::mt19937_64 rng(20261208);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const double p : {0.79, 0.75, 0.5, 0.21, 0.04}) {
    constexpr int kRuns = 20000;
    double fails = 0, questions = 0, questions_sq = 0;
    for (int r = 0; r < kRuns; ++r) {
      const auto run = rule_by_hand(plan.config, plan.min_correct, [&] { return u(rng) < p; });
      fails += run.fail;
      questions += static_cast<double>(run.questions);
      questions_sq += static_cast<double>(run.questions) * static_cast<double>(run.questions);
    }
    const GateOc oc = exact_gate_oc(p, plan);
    const double fail_rate = fails / kRuns, mean_q = questions / kRuns;
    const double se_fail = std::sqrt(std::max(oc.p_fail * (1 - oc.p_fail), 1e-6) / kRuns);
    const double se_q = std::sqrt(std::max(questions_sq / kRuns - mean_q * mean_q, 1e-6) / kRuns);
    EXPECT_NEAR(fail_rate, oc.p_fail, 4.5 * se_fail + 1e-9) << p;
    EXPECT_NEAR(mean_q, oc.expected_questions, 4.5 * se_q + 1e-9) << p;
  }
}

TEST(GateOc, HealthyFalseFailuresByMonteCarloStayNearTheExactRate) {
  // 0.09 % is rare: 100 000 runs see about 90 failures, a standard error of about 10 %.
  const GatePlan plan = plan_gate(GateConfig{});
  std::mt19937_64 rng(7);
  std::bernoulli_distribution right(0.88);
  constexpr int kRuns = 100000;
  int fails = 0;
  for (int r = 0; r < kRuns; ++r) fails += rule_by_hand(plan.config, plan.min_correct, [&] { return right(rng); }).fail;
  const double se = std::sqrt(plan.false_failure / kRuns);
  EXPECT_NEAR(static_cast<double>(fails) / kRuns, plan.false_failure, 4.5 * se);
}

TEST(Gate, LiveRuleAgreesWithTheRuleWrittenOut) {
  const GatePlan plan = plan_gate(GateConfig{});
  std::mt19937_64 rng(3);
  for (const double p : {0.83, 0.8, 0.6, 0.3}) {
    std::bernoulli_distribution right(p);
    for (int r = 0; r < 200; ++r) {
      std::vector<bool> answers;
      for (int i = 0; i < 400; ++i) answers.push_back(right(rng));
      std::size_t i = 0;
      const auto by_hand = rule_by_hand(plan.config, plan.min_correct, [&] { return answers[i++]; });
      Gate g(plan);
      for (const bool a : answers) g.add(a);
      EXPECT_EQ(g.decision() == GateDecision::Fail, by_hand.fail);
      EXPECT_EQ(g.stop() == GateStop::Collapse, by_hand.collapse);
      EXPECT_EQ(g.observations(), by_hand.questions);
    }
  }
}

TEST(Gate, NeverPassesBelowItsThresholdNorFailsAboveIt) {
  // The verdict and the counts printed beside it cannot disagree: a pass has k >= min_correct of all
  // questions; a fail has an accuracy below min_correct / questions on the answers it read.
  const GatePlan plan = plan_gate(GateConfig{});
  std::mt19937_64 rng(11);
  for (const double p : {0.86, 0.83, 0.8, 0.55, 0.4}) {
    std::bernoulli_distribution right(p);
    for (int r = 0; r < 300; ++r) {
      Gate g(plan);
      while (g.decision() == GateDecision::Continue) g.add(right(rng));
      const double acc = static_cast<double>(g.correct()) / static_cast<double>(g.observations());
      const double threshold = static_cast<double>(plan.min_correct) / 400.0;
      if (g.decision() == GateDecision::Pass) {
        EXPECT_EQ(g.observations(), 400);
        EXPECT_GE(g.correct(), plan.min_correct);
      } else {
        EXPECT_LT(acc, threshold) << g.correct() << "/" << g.observations();
      }
    }
  }
}

// Two-sided exact McNemar by hand: 2 * sum_{i <= min} C(m, i) / 2^m, capped at 1.
double mcnemar_by_hand(std::int64_t b, std::int64_t c) {
  const std::int64_t m = b + c;
  if (m == 0) return 1;
  double tail = 0, coeff = 1;  // C(m, 0)
  for (std::int64_t i = 0; i <= std::min(b, c); ++i) {
    tail += coeff;
    coeff = coeff * static_cast<double>(m - i) / static_cast<double>(i + 1);
  }
  return std::min(1.0, 2 * tail * std::pow(0.5, static_cast<double>(m)));
}

TEST(PairedPower, MonteCarloWithAHandWrittenMcNemarMatchesTheExactProbability) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const auto& [lost, gained] : {std::pair{0.07, 0.02}, std::pair{0.03, 0.03}, std::pair{0.05, 0.0}}) {
    constexpr int kRuns = 20000;
    int fails = 0;
    for (int r = 0; r < kRuns; ++r) {
      std::int64_t b = 0, c = 0;
      for (int q = 0; q < 200; ++q) {
        const double x = u(rng);
        b += x < lost;
        c += x >= lost && x < lost + gained;
      }
      fails += b > c && mcnemar_by_hand(b, c) < 0.01;
    }
    const double exact = exact_paired_fail_probability(200, lost, gained, 0.01);
    const double se = std::sqrt(std::max(exact * (1 - exact), 1e-6) / kRuns);
    EXPECT_NEAR(static_cast<double>(fails) / kRuns, exact, 4.5 * se + 1e-9) << lost << " " << gained;
  }
}

TEST(PairedPower, NoChangeFailsAtMostHalfTheTwoSidedLevel) {
  for (const double flip : {0.005, 0.02, 0.05, 0.2}) {
    EXPECT_LE(exact_paired_fail_probability(400, flip, flip, 0.001), 0.0005) << flip;
  }
  EXPECT_EQ(exact_paired_fail_probability(400, 0, 0, 0.001), 0.0);
}

TEST(GateValidation, EveryOptionIsRangeCheckedAndNanIsRefused) {
  const double nan = std::nan("");
  const auto bad = [](auto mutate, const std::string& option) {
    GateConfig c;
    mutate(c);
    expect_input_error([&] { plan_gate(c); }, option);
  };
  bad([&](GateConfig& c) { c.p_good = nan; }, "--p-good");
  bad([](GateConfig& c) { c.p_good = 1.0; }, "--p-good");
  bad([&](GateConfig& c) { c.p_collapse = nan; }, "--p-bad");
  bad([](GateConfig& c) { c.p_collapse = 0.9; }, "--p-bad");
  bad([&](GateConfig& c) { c.alpha = nan; }, "--gate-alpha");
  bad([](GateConfig& c) { c.alpha = -0.001; }, "--gate-alpha");
  bad([&](GateConfig& c) { c.collapse_alpha = nan; }, "--collapse-alpha");
  bad([](GateConfig& c) { c.collapse_alpha = 0.01; }, "--collapse-alpha");  // above the whole budget
  bad([](GateConfig& c) { c.questions = 0; }, "--num-questions");
  bad([](GateConfig& c) { c.questions = -5; }, "--num-questions");
  expect_input_error([&] { exact_gate_oc(nan, plan_gate(GateConfig{})); }, "--p-true");
  expect_input_error([&] { exact_paired_fail_probability(100, 0.1, 0.1, nan); }, "--paired-alpha");
}

}  // namespace
}  // namespace mxg::probe
