// Tests of the probe statistics: SPRT steps and stopping, truncation, the exact and simulated cost of a
// verdict, Wilson and McNemar. Expectations come from PROBE.md or from computations written out here
// (closed forms, hand sums, brute-force enumeration), never from the code under test.
#include "harness/probe/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "harness/probe/tests/expect_input_error.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

// The collapse detector of PROBE.md: 0.88 vs 0.21, alpha = beta = 0.01, never truncated.
SprtConfig collapse_detector() { return SprtConfig{0.88, 0.21, 0.01, 0.01, 0, 0.0}; }

// The 0.79 gate of PROBE.md: 0.85 vs 0.73 truncated at 200 questions, fixed 0.79 rule as fallback. The
// error rates are the ones that reproduce its "~74 healthy, ~11 collapsed" (see GateCostMatchesProbeMd).
SprtConfig gate_079(double alpha = 0.01, double beta = 0.01) { return SprtConfig{0.85, 0.73, alpha, beta, 200, 0.79}; }

using testing::expect_input_error;

double round3(double x) { return std::round(x * 1000.0) / 1000.0; }

// ---- SPRT ------------------------------------------------------------------------------------------

TEST(Sprt, StepsAndBoundsOfTheCollapseDetector) {
  const Sprt t(collapse_detector());
  // PROBE.md: -1.433 per correct, +1.884 per wrong, bounds +-ln 99 = +-4.595.
  EXPECT_NEAR(t.step_correct(), -1.433, 1e-3);
  EXPECT_NEAR(t.step_wrong(), 1.884, 1e-3);
  EXPECT_NEAR(t.step_correct(), std::log(0.21 / 0.88), 1e-12);
  EXPECT_NEAR(t.step_wrong(), std::log(0.79 / 0.12), 1e-12);
  EXPECT_NEAR(t.upper(), 4.595, 5e-4);
  EXPECT_NEAR(t.lower(), -4.595, 5e-4);
  EXPECT_NEAR(t.upper(), std::log(99.0), 1e-12);
  EXPECT_NEAR(t.lower(), -std::log(99.0), 1e-12);
  EXPECT_EQ(t.decision(), SprtDecision::Continue);
  EXPECT_EQ(t.stop(), SprtStop::None);
  EXPECT_EQ(t.observations(), 0);
}

TEST(Sprt, FourCorrectInARowIsHealthyNotThree) {
  Sprt t(collapse_detector());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.add(true), SprtDecision::Continue) << "after " << i + 1;
  EXPECT_NEAR(t.llr(), 3 * -1.4335, 3e-3);  // -4.30: not yet past -4.595
  EXPECT_EQ(t.add(true), SprtDecision::Healthy);
  EXPECT_EQ(t.stop(), SprtStop::LowerBoundary);
  EXPECT_EQ(t.observations(), 4);
  EXPECT_EQ(t.correct(), 4);
}

TEST(Sprt, ThreeWrongInARowIsBrokenNotTwo) {
  Sprt t(collapse_detector());
  EXPECT_EQ(t.add(false), SprtDecision::Continue);
  EXPECT_EQ(t.add(false), SprtDecision::Continue);  // +3.77 < 4.595
  EXPECT_EQ(t.add(false), SprtDecision::Broken);    // +5.65
  EXPECT_EQ(t.stop(), SprtStop::UpperBoundary);
  EXPECT_EQ(t.observations(), 3);
  EXPECT_EQ(t.correct(), 0);
}

TEST(Sprt, DecisionSticks) {
  Sprt t(collapse_detector());
  for (int i = 0; i < 4; ++i) t.add(true);
  ASSERT_EQ(t.decision(), SprtDecision::Healthy);
  const double llr = t.llr();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t.add(false), SprtDecision::Healthy);
  EXPECT_EQ(t.observations(), 4);
  EXPECT_EQ(t.llr(), llr);
  EXPECT_EQ(t.stop(), SprtStop::LowerBoundary);
  EXPECT_EQ(t.decide_by_fallback(), SprtDecision::Healthy);
  EXPECT_EQ(t.stop(), SprtStop::LowerBoundary);
}

TEST(Sprt, MixedSequencesByHand) {
  // Steps from the hypotheses: correct ln(0.21/0.88), wrong ln(0.79/0.12).
  const double c = std::log(0.21 / 0.88), w = std::log(0.79 / 0.12);
  {
    // W C W W: +1.884 -1.433 +1.884 +1.884 = 4.219 (< 4.595) -> continue; then W: 6.103 -> broken at 5.
    Sprt t(collapse_detector());
    const bool seq[] = {false, true, false, false};
    for (bool x : seq) EXPECT_EQ(t.add(x), SprtDecision::Continue);
    EXPECT_NEAR(t.llr(), 3 * w + c, 1e-12);
    EXPECT_NEAR(t.llr(), 4.219, 2e-3);
    EXPECT_EQ(t.add(false), SprtDecision::Broken);
    EXPECT_EQ(t.observations(), 5);
  }
  {
    // C C W C C: -2.866, +1.884 -> -0.982, -2.415, -3.848 -> continue; C: -5.281 -> healthy at 6.
    Sprt t(collapse_detector());
    const bool seq[] = {true, true, false, true, true};
    for (bool x : seq) EXPECT_EQ(t.add(x), SprtDecision::Continue);
    EXPECT_NEAR(t.llr(), 4 * c + w, 1e-12);
    EXPECT_NEAR(t.llr(), -3.848, 2e-3);
    EXPECT_EQ(t.add(true), SprtDecision::Healthy);
    EXPECT_EQ(t.observations(), 6);
    EXPECT_EQ(t.correct(), 5);
  }
  {
    // Alternating W C drifts up by w + c = +0.4517 a pair. The W of the 7th pair peaks at
    // 6 * 0.4517 + 1.8845 = 4.5947, just under ln 99 = 4.5951; the W of the 8th reaches 5.047: broken at 15.
    Sprt t(collapse_detector());
    for (int pair = 0; pair < 7; ++pair) {
      EXPECT_EQ(t.add(false), SprtDecision::Continue) << pair;
      EXPECT_EQ(t.add(true), SprtDecision::Continue) << pair;
    }
    EXPECT_NEAR(t.llr(), 7 * (w + c), 1e-12);
    EXPECT_EQ(t.add(false), SprtDecision::Broken);
    EXPECT_NEAR(t.llr(), 5.047, 1e-3);
    EXPECT_EQ(t.observations(), 15);
  }
}

TEST(Sprt, TruncationDecidesByTheFixedRule) {
  // C W C stays inside (+-4.595): at max_questions = 3 the fixed rule sees 2/3 = 0.667.
  for (const auto& [threshold, expected] :
       {std::pair{0.5, SprtDecision::Healthy}, std::pair{2.0 / 3.0, SprtDecision::Healthy},
        std::pair{0.7, SprtDecision::Broken}}) {
    SprtConfig cfg = collapse_detector();
    cfg.max_questions = 3;
    cfg.fallback_threshold = threshold;
    Sprt t(cfg);
    EXPECT_EQ(t.add(true), SprtDecision::Continue);
    EXPECT_EQ(t.add(false), SprtDecision::Continue);
    EXPECT_EQ(t.add(true), expected) << threshold;
    EXPECT_EQ(t.stop(), SprtStop::Truncated);
    EXPECT_EQ(t.add(false), expected);  // sticks
    EXPECT_EQ(t.observations(), 3);
  }
}

TEST(Sprt, BoundaryWinsOverTruncationAtTheLastQuestion) {
  SprtConfig cfg = collapse_detector();
  cfg.max_questions = 3;
  cfg.fallback_threshold = 0.0;  // the fixed rule would say healthy
  Sprt t(cfg);
  t.add(false);
  t.add(false);
  EXPECT_EQ(t.add(false), SprtDecision::Broken);
  EXPECT_EQ(t.stop(), SprtStop::UpperBoundary);
}

TEST(Sprt, FallbackWhenQuestionsRunOut) {
  Sprt t(gate_079());
  t.add(true);
  t.add(true);
  t.add(true);
  t.add(false);  // 3/4 = 0.75 < 0.79
  EXPECT_EQ(t.decision(), SprtDecision::Continue);
  EXPECT_EQ(t.decide_by_fallback(), SprtDecision::Broken);
  EXPECT_EQ(t.stop(), SprtStop::Truncated);

  Sprt u(gate_079());
  for (int i = 0; i < 4; ++i) u.add(true);  // 4/4 >= 0.79
  EXPECT_EQ(u.decide_by_fallback(), SprtDecision::Healthy);
}

TEST(Sprt, DecisionNames) {
  EXPECT_EQ(decision_name(SprtDecision::Continue), "continue");
  EXPECT_EQ(decision_name(SprtDecision::Healthy), "healthy");
  EXPECT_EQ(decision_name(SprtDecision::Broken), "broken");
}

TEST(Sprt, ValidateNamesTheOption) {
  const auto bad = [](auto edit, const std::string& option) {
    SprtConfig c = gate_079();
    edit(c);
    expect_input_error([&] { validate(c); }, option);
    expect_input_error([&] { Sprt t(c); }, option);
  };
  const double nan = std::nan("");
  bad([](SprtConfig& c) { c.p_good = 1.0; }, "--p-good");
  bad([](SprtConfig& c) { c.p_good = 0.0; }, "--p-good");
  bad([=](SprtConfig& c) { c.p_good = nan; }, "--p-good");
  bad([](SprtConfig& c) { c.p_bad = 0.0; }, "--p-bad");
  bad([](SprtConfig& c) { c.p_bad = 0.85; }, "--p-bad");  // equal to p_good
  bad([](SprtConfig& c) { c.p_bad = 0.9; }, "--p-bad");   // above p_good
  bad([=](SprtConfig& c) { c.p_bad = nan; }, "--p-bad");
  bad([](SprtConfig& c) { c.alpha = 0.0; }, "--alpha");
  bad([](SprtConfig& c) { c.alpha = 0.5; }, "--alpha");
  bad([=](SprtConfig& c) { c.alpha = nan; }, "--alpha");
  bad([](SprtConfig& c) { c.beta = -0.1; }, "--beta");
  bad([](SprtConfig& c) { c.beta = 0.6; }, "--beta");
  bad([](SprtConfig& c) { c.max_questions = -1; }, "--max-questions");
  bad([](SprtConfig& c) { c.fallback_threshold = -0.01; }, "--min-accuracy");
  bad([](SprtConfig& c) { c.fallback_threshold = 1.01; }, "--min-accuracy");
  bad([=](SprtConfig& c) { c.fallback_threshold = nan; }, "--min-accuracy");
  EXPECT_NO_THROW(validate(gate_079()));
  EXPECT_NO_THROW(validate(collapse_detector()));
}

// ---- Exact cost of a verdict -------------------------------------------------------------------------

// Independent oracle: enumerate every answer sequence of length `len` (2^len of them), run a stopping
// rule written out here, and sum the probabilities. Requires config.max_questions == len.
ExactVerdictCost enumerate_all_sequences(double p_true, const SprtConfig& cfg, int len) {
  const double up = std::log((1 - cfg.beta) / cfg.alpha), down = std::log(cfg.beta / (1 - cfg.alpha));
  const double right = std::log(cfg.p_bad / cfg.p_good), wrong = std::log((1 - cfg.p_bad) / (1 - cfg.p_good));
  ExactVerdictCost out;
  for (unsigned long bits = 0; bits < (1ul << len); ++bits) {
    double prob = 1.0;
    int k = 0, n = 0;
    int verdict = 0;  // +1 broken, -1 healthy
    for (n = 1; n <= len; ++n) {
      const bool correct = (bits >> (n - 1)) & 1u;
      prob *= correct ? p_true : 1 - p_true;
      k += correct;
      const double llr = k * right + (n - k) * wrong;
      if (llr >= up) verdict = 1;
      if (llr <= down) verdict = -1;
      if (verdict != 0) break;
    }
    if (verdict == 0) {
      n = len;
      verdict = static_cast<double>(k) / len >= cfg.fallback_threshold ? -1 : 1;
      out.p_truncated += prob;
    } else if ((bits >> n) != 0) {
      // A run that stopped after n answers is one event, however its unused bits are set: count it once.
      continue;
    }
    out.expected_questions += n * prob;
    if (verdict == 1) out.p_broken += prob;
  }
  return out;
}

TEST(ExactCost, MatchesBruteForceEnumeration) {
  struct Case {
    double p_true;
    SprtConfig cfg;
  };
  SprtConfig short_collapse = collapse_detector();
  short_collapse.max_questions = 12;
  short_collapse.fallback_threshold = 0.6;
  SprtConfig short_gate = gate_079();
  short_gate.max_questions = 14;
  for (const Case& c : {Case{0.6, short_collapse}, Case{0.88, short_collapse}, Case{0.3, short_collapse},
                        Case{0.79, short_gate}, Case{0.5, short_gate}}) {
    const int len = static_cast<int>(c.cfg.max_questions);
    const ExactVerdictCost want = enumerate_all_sequences(c.p_true, c.cfg, len);
    const ExactVerdictCost got = exact_questions_to_verdict(c.p_true, c.cfg);
    EXPECT_NEAR(got.expected_questions, want.expected_questions, 1e-9) << c.p_true << " len " << len;
    EXPECT_NEAR(got.p_broken, want.p_broken, 1e-12) << c.p_true << " len " << len;
    EXPECT_NEAR(got.p_truncated, want.p_truncated, 1e-12) << c.p_true << " len " << len;
  }
}

TEST(ExactCost, CertainAnswers) {
  // Always right: healthy after exactly 4; always wrong: broken after exactly 3.
  const ExactVerdictCost right = exact_questions_to_verdict(1.0, collapse_detector());
  EXPECT_DOUBLE_EQ(right.expected_questions, 4.0);
  EXPECT_DOUBLE_EQ(right.p_broken, 0.0);
  const ExactVerdictCost wrong = exact_questions_to_verdict(0.0, collapse_detector());
  EXPECT_DOUBLE_EQ(wrong.expected_questions, 3.0);
  EXPECT_DOUBLE_EQ(wrong.p_broken, 1.0);
  EXPECT_DOUBLE_EQ(wrong.p_truncated, 0.0);
}

TEST(ExactCost, CollapseDetectorFiguresOfProbeMd) {
  // PROBE.md: about 5 questions on average, 5.3 healthy and 4.7 collapsed.
  const ExactVerdictCost healthy = exact_questions_to_verdict(0.88, collapse_detector());
  const ExactVerdictCost collapsed = exact_questions_to_verdict(0.21, collapse_detector());
  EXPECT_NEAR(healthy.expected_questions, 5.3, 0.05);
  EXPECT_NEAR(collapsed.expected_questions, 4.7, 0.05);
  EXPECT_EQ(healthy.p_truncated, 0.0);
  // Wald's bounds on the real error rates: alpha' <= alpha / (1 - beta), beta' <= beta / (1 - alpha).
  EXPECT_LE(healthy.p_broken, 0.01 / 0.99);
  EXPECT_LE(1.0 - collapsed.p_broken, 0.01 / 0.99);
  EXPECT_GT(healthy.p_broken, 0.0);
}

// Bisection on P(broken) = 1/2, which falls as p_true rises.
double indifference_point(const SprtConfig& cfg) {
  double lo = 0.04, hi = 0.95;
  for (int i = 0; i < 40; ++i) {
    const double mid = (lo + hi) / 2;
    (exact_questions_to_verdict(mid, cfg).p_broken > 0.5 ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

TEST(ExactCost, IndifferencePointOfTheCollapseDetector) {
  EXPECT_NEAR(indifference_point(collapse_detector()), 0.57, 0.02);  // PROBE.md: p ~ 0.57
  // Hence it does not gate at 0.79: a 0.79 build is called healthy almost always.
  EXPECT_LT(exact_questions_to_verdict(0.79, collapse_detector()).p_broken, 0.05);
}

TEST(ExactCost, GateCostMatchesProbeMd) {
  // PROBE.md: ~74 questions for a healthy 0.88 build, ~11 for a collapse, against 200 for the fixed rule.
  // Of the error rates in {0.01, 0.025, 0.05, 0.1}^2 only alpha = beta = 0.01 gives both (73.4 and 11.4):
  // beta alone sets the healthy cost, alpha the collapsed one.
  int matches = 0;
  for (const double alpha : {0.01, 0.025, 0.05, 0.1}) {
    for (const double beta : {0.01, 0.025, 0.05, 0.1}) {
      const double healthy = exact_questions_to_verdict(0.88, gate_079(alpha, beta)).expected_questions;
      const double collapsed = exact_questions_to_verdict(0.21, gate_079(alpha, beta)).expected_questions;
      const bool match = std::abs(healthy - 74.0) <= 1.0 && std::abs(collapsed - 11.0) <= 0.5;
      EXPECT_EQ(match, alpha == 0.01 && beta == 0.01) << alpha << " " << beta << ": " << healthy << ", " << collapsed;
      matches += match;
    }
  }
  EXPECT_EQ(matches, 1);
  const ExactVerdictCost healthy = exact_questions_to_verdict(0.88, gate_079());
  const ExactVerdictCost collapsed = exact_questions_to_verdict(0.21, gate_079());
  EXPECT_LT(healthy.p_broken, 0.01);
  EXPECT_GT(healthy.p_truncated, 0.0);  // some healthy runs do reach question 200
  EXPECT_NEAR(collapsed.p_broken, 1.0, 1e-9);
}

// P[Bin(n, p) <= m], summed term by term in log space.
double binomial_cdf_by_hand(int n, double p, int m) {
  double sum = 0;
  for (int i = 0; i <= m; ++i) {
    sum += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * std::log(p) +
                    (n - i) * std::log1p(-p));
  }
  return sum;
}

TEST(ExactCost, StatisticsMdTables) {
  // The exact entries of the two tables in harness/probe/STATISTICS.md, at the precision printed there:
  // this test keeps the document and the code together (correctness is checked by the tests above).
  struct Row {
    double p_true, expected, expected_tol, p_broken, p_broken_tol, p_truncated, p_truncated_tol;
  };
  // p_true, E[questions] and tolerance, P(broken) and tolerance, P(truncated) and tolerance.
  const Row collapse_rows[] = {{0.88, 5.30, 0.005, 0.0042, 5e-5, 0, 0},  {0.79, 6.88, 0.005, 0.034, 5e-4, 0, 0},
                               {0.57, 10.82, 0.005, 0.489, 5e-4, 0, 0}, {0.47, 9.55, 0.005, 0.781, 5e-4, 0, 0},
                               {0.21, 4.67, 0.005, 0.9958, 5e-5, 0, 0}, {0.04, 3.25, 0.005, 1.0, 1e-5, 0, 0}};
  const Row gate_rows[] = {{0.88, 73.4, 0.05, 0.00045, 5e-6, 0.0059, 5e-5},
                           {0.79, 153.5, 0.05, 0.473, 5e-4, 0.472, 5e-4},
                           {0.57, 29.1, 0.05, 1.0, 1e-4, 0, 5e-5},
                           {0.47, 20.2, 0.05, 1.0, 1e-4, 0, 5e-5},
                           {0.21, 11.4, 0.05, 1.0, 1e-4, 0, 5e-5},
                           {0.04, 8.6, 0.05, 1.0, 1e-4, 0, 5e-5}};
  for (const auto& [name, cfg, rows] : {std::tuple{"collapse detector", collapse_detector(), collapse_rows},
                                        std::tuple{"0.79 gate", gate_079(), gate_rows}}) {
    std::printf("%s\n  p_true  E[questions]  P(broken)  P(truncated)  fixed-200 P(broken)\n", name);
    for (int i = 0; i < 6; ++i) {
      const Row& r = rows[i];
      const ExactVerdictCost e = exact_questions_to_verdict(r.p_true, cfg);
      const double fixed = binomial_cdf_by_hand(200, r.p_true, 157);
      std::printf("  %.2f  %12.3f  %9.5f  %12.5f  %19.5f\n", r.p_true, e.expected_questions, e.p_broken, e.p_truncated,
                  fixed);
      EXPECT_NEAR(e.expected_questions, r.expected, r.expected_tol) << name << " " << r.p_true;
      EXPECT_NEAR(e.p_broken, r.p_broken, r.p_broken_tol) << name << " " << r.p_true;
      EXPECT_NEAR(e.p_truncated, r.p_truncated, r.p_truncated_tol) << name << " " << r.p_true;
    }
  }
  // The fixed 200-question rule column (accuracy below 158/200 -> broken).
  EXPECT_NEAR(binomial_cdf_by_hand(200, 0.88, 157), 0.00010, 5e-6);
  EXPECT_NEAR(binomial_cdf_by_hand(200, 0.79, 157), 0.459, 5e-4);
  EXPECT_GT(binomial_cdf_by_hand(200, 0.57, 157), 0.9999);
  // Indifference points quoted in the text.
  EXPECT_NEAR(indifference_point(collapse_detector()), 0.567, 5e-4);
  EXPECT_NEAR(indifference_point(gate_079()), 0.788, 5e-4);
}

TEST(ExactCost, EveryRunTruncatedIsTheBinomialTail) {
  // The gate needs 8 wrong in a row (upper) or 31 right (lower): cut at 5 questions, every run
  // truncates and the verdict is the fixed rule: healthy iff k >= 4 (4/5 = 0.8 >= 0.79).
  SprtConfig cfg = gate_079();
  cfg.max_questions = 5;
  const double p = 0.79;
  const double p_healthy = 5 * std::pow(p, 4) * (1 - p) + std::pow(p, 5);
  const ExactVerdictCost e = exact_questions_to_verdict(p, cfg);
  EXPECT_NEAR(e.p_broken, 1 - p_healthy, 1e-12);
  EXPECT_NEAR(e.p_truncated, 1.0, 1e-12);
  EXPECT_NEAR(e.expected_questions, 5.0, 1e-12);
}

TEST(ExactCost, RefusesATestThatDoesNotSettle) {
  // Hypotheses 0.51 vs 0.50: the LLR moves +-0.02 a question between +-4.6, so at p_true = 0.505 (no
  // drift) it needs ~(4.6 / 0.02)^2 = 53000 questions on average and often far more than 100000.
  const SprtConfig too_close{0.51, 0.50, 0.01, 0.01, 0, 0.0};
  expect_input_error([&] { exact_questions_to_verdict(0.505, too_close); }, "--max-questions");
}

TEST(ExactCost, RejectsBadInput) {
  expect_input_error([] { exact_questions_to_verdict(1.5, collapse_detector()); }, "--p-true");
  expect_input_error([] { exact_questions_to_verdict(-0.1, collapse_detector()); }, "--p-true");
  expect_input_error([] { exact_questions_to_verdict(std::nan(""), collapse_detector()); }, "--p-true");
  SprtConfig bad = collapse_detector();
  bad.alpha = 0.7;
  expect_input_error([&] { exact_questions_to_verdict(0.5, bad); }, "--alpha");
}

// ---- Monte Carlo -------------------------------------------------------------------------------------

TEST(Simulation, AgreesWithTheExactComputation) {
  // 20 batches of 1000 runs: the spread of the batch means gives the standard error of their mean.
  constexpr int kBatches = 20;
  constexpr std::int64_t kRuns = 1000;
  struct Case {
    double p_true;
    SprtConfig cfg;
  };
  for (const Case& c : {Case{0.88, collapse_detector()}, Case{0.57, collapse_detector()},
                        Case{0.21, collapse_detector()}, Case{0.88, gate_079()}, Case{0.79, gate_079()},
                        Case{0.21, gate_079()}}) {
    const ExactVerdictCost exact = exact_questions_to_verdict(c.p_true, c.cfg);
    double sum = 0, sum_sq = 0, broken = 0, truncated = 0;
    for (int b = 0; b < kBatches; ++b) {
      const VerdictSimulation s = simulate_questions_to_verdict(c.p_true, c.cfg, kRuns, 1000 + b);
      EXPECT_EQ(s.runs, kRuns);
      sum += s.mean_questions;
      sum_sq += s.mean_questions * s.mean_questions;
      broken += s.broken_rate / kBatches;
      truncated += s.truncated_rate / kBatches;
    }
    const double mean = sum / kBatches;
    const double batch_var = (sum_sq - kBatches * mean * mean) / (kBatches - 1);
    const double se = std::sqrt(batch_var / kBatches);
    EXPECT_NEAR(mean, exact.expected_questions, 4 * se + 1e-9) << c.p_true << " gate " << c.cfg.max_questions;
    const double total = double(kBatches) * kRuns;
    const double se_broken = std::sqrt(exact.p_broken * (1 - exact.p_broken) / total);
    EXPECT_NEAR(broken, exact.p_broken, 4 * se_broken + 1 / total) << c.p_true;
    const double se_truncated = std::sqrt(exact.p_truncated * (1 - exact.p_truncated) / total);
    EXPECT_NEAR(truncated, exact.p_truncated, 4 * se_truncated + 1 / total) << c.p_true;
  }
}

TEST(Simulation, DeterministicPerSeed) {
  const VerdictSimulation a = simulate_questions_to_verdict(0.79, gate_079(), 500, 42);
  const VerdictSimulation b = simulate_questions_to_verdict(0.79, gate_079(), 500, 42);
  const VerdictSimulation c = simulate_questions_to_verdict(0.79, gate_079(), 500, 43);
  EXPECT_EQ(a.mean_questions, b.mean_questions);
  EXPECT_EQ(a.p50, b.p50);
  EXPECT_EQ(a.p90, b.p90);
  EXPECT_EQ(a.p99, b.p99);
  EXPECT_EQ(a.max, b.max);
  EXPECT_EQ(a.broken_rate, b.broken_rate);
  EXPECT_EQ(a.truncated_rate, b.truncated_rate);
  EXPECT_NE(a.mean_questions, c.mean_questions);
}

TEST(Simulation, CertainAnswersAndPercentiles) {
  const VerdictSimulation right = simulate_questions_to_verdict(1.0, collapse_detector(), 100, 1);
  EXPECT_EQ(right.mean_questions, 4.0);
  EXPECT_EQ(right.p50, 4);
  EXPECT_EQ(right.p99, 4);
  EXPECT_EQ(right.max, 4);
  EXPECT_EQ(right.broken_rate, 0.0);
  const VerdictSimulation wrong = simulate_questions_to_verdict(0.0, collapse_detector(), 100, 1);
  EXPECT_EQ(wrong.mean_questions, 3.0);
  EXPECT_EQ(wrong.max, 3);
  EXPECT_EQ(wrong.broken_rate, 1.0);
  EXPECT_EQ(wrong.truncated_rate, 0.0);
  // Cut at 5 questions the gate never reaches a boundary (see EveryRunTruncatedIsTheBinomialTail).
  SprtConfig cut = gate_079();
  cut.max_questions = 5;
  const VerdictSimulation t = simulate_questions_to_verdict(0.79, cut, 200, 1);
  EXPECT_EQ(t.truncated_rate, 1.0);
  EXPECT_EQ(t.p50, 5);
  EXPECT_EQ(t.max, 5);
  // The percentiles of the healthy gate are ordered and bounded by the truncation.
  const VerdictSimulation g = simulate_questions_to_verdict(0.88, gate_079(), 2000, 3);
  EXPECT_LE(g.p50, g.p90);
  EXPECT_LE(g.p90, g.p99);
  EXPECT_LE(g.p99, g.max);
  EXPECT_LE(g.max, 200);
  EXPECT_GT(g.p50, 31);  // 31 right in a row is the shortest healthy verdict
}

TEST(Simulation, RejectsBadInput) {
  expect_input_error([] { simulate_questions_to_verdict(0.5, collapse_detector(), 0, 1); }, "--runs");
  expect_input_error([] { simulate_questions_to_verdict(2.0, collapse_detector(), 10, 1); }, "--p-true");
  SprtConfig bad = collapse_detector();
  bad.p_bad = 0.95;
  expect_input_error([&] { simulate_questions_to_verdict(0.5, bad, 10, 1); }, "--p-bad");
}

// ---- Wilson ------------------------------------------------------------------------------------------

// The textbook form: (k + z^2/2) / (n + z^2) +- z sqrt(n) / (n + z^2) * sqrt(p q + z^2 / 4n).
Interval textbook_wilson(double k, double n, double z) {
  const double p = k / n, z2 = z * z;
  const double centre = (k + z2 / 2) / (n + z2);
  const double half = z * std::sqrt(n) / (n + z2) * std::sqrt(p * (1 - p) + z2 / (4 * n));
  return {centre - half, centre + half};
}

TEST(Wilson, ProbeMdExample) {
  const Interval w = wilson_interval(176, 200);
  EXPECT_EQ(round3(w.lo), 0.828);
  EXPECT_EQ(round3(w.hi), 0.918);
}

TEST(Wilson, MatchesTheTextbookForm) {
  for (const auto& [k, n] : {std::pair{176, 200}, std::pair{1, 3}, std::pair{42, 1319}, std::pair{7, 7},
                             std::pair{0, 50}, std::pair{500, 1000}}) {
    for (const double z : {1.0, 1.96, 2.576}) {
      const Interval got = wilson_interval(k, n, z);
      const Interval want = textbook_wilson(k, n, z);
      EXPECT_NEAR(got.lo, std::max(0.0, want.lo), 1e-12) << k << "/" << n << " z " << z;
      EXPECT_NEAR(got.hi, std::min(1.0, want.hi), 1e-12) << k << "/" << n << " z " << z;
    }
  }
}

TEST(Wilson, Edges) {
  const Interval none = wilson_interval(0, 0);
  EXPECT_EQ(none.lo, 0.0);
  EXPECT_EQ(none.hi, 1.0);
  // k = 0: [0, z^2/(n + z^2)]; k = n: [n/(n + z^2), 1].
  const double z2 = 1.96 * 1.96;
  const Interval zero = wilson_interval(0, 20);
  EXPECT_GE(zero.lo, 0.0);
  EXPECT_NEAR(zero.lo, 0.0, 1e-15);
  EXPECT_NEAR(zero.hi, z2 / (20 + z2), 1e-12);
  const Interval all = wilson_interval(20, 20);
  EXPECT_LE(all.hi, 1.0);
  EXPECT_NEAR(all.hi, 1.0, 1e-15);
  EXPECT_NEAR(all.lo, 20 / (20 + z2), 1e-12);
}

TEST(Wilson, RejectsImpossibleCounts) {
  EXPECT_THROW(wilson_interval(5, 3), InputError);
  EXPECT_THROW(wilson_interval(-1, 3), InputError);
  EXPECT_THROW(wilson_interval(0, -1), InputError);
  EXPECT_THROW(wilson_interval(1, 3, 0.0), InputError);
}

// ---- McNemar -----------------------------------------------------------------------------------------

// 2 * P[Bin(b + c, 1/2) <= min(b, c)], capped at 1, by summing binomial coefficients.
double mcnemar_by_hand(int b, int c) {
  const int n = b + c, m = std::min(b, c);
  double coefficient = 1, sum = 0;  // C(n, 0)
  for (int i = 0; i <= m; ++i) {
    sum += coefficient;
    coefficient = coefficient * (n - i) / (i + 1);
  }
  return std::min(1.0, 2 * sum / std::pow(2.0, n));
}

TEST(McNemar, SevenVersusNone) {
  EXPECT_NEAR(mcnemar_exact_p(7, 0), 2 * std::pow(0.5, 7), 1e-15);
  EXPECT_EQ(round3(mcnemar_exact_p(7, 0)), 0.016);  // PROBE.md
  EXPECT_NEAR(mcnemar_exact_p(0, 7), 0.015625, 1e-15);
}

TEST(McNemar, NoDiscordantPairs) { EXPECT_EQ(mcnemar_exact_p(0, 0), 1.0); }

TEST(McNemar, SymmetricAndCapped) {
  for (const auto& [b, c] : {std::pair{4, 15}, std::pair{1, 2}, std::pair{10, 30}, std::pair{25, 25}}) {
    EXPECT_EQ(mcnemar_exact_p(b, c), mcnemar_exact_p(c, b)) << b << " " << c;
  }
  EXPECT_EQ(mcnemar_exact_p(3, 3), 1.0);  // 2 * 42/64 > 1
  EXPECT_EQ(mcnemar_exact_p(25, 25), 1.0);
}

TEST(McNemar, MatchesBinomialSums) {
  // b = 4, c = 15: 2 * (1 + 19 + 171 + 969 + 3876) / 2^19 = 0.019210815...
  EXPECT_NEAR(mcnemar_exact_p(4, 15), 2.0 * 5036 / 524288, 1e-12);
  for (const auto& [b, c] : {std::pair{4, 15}, std::pair{1, 2}, std::pair{10, 30}, std::pair{0, 12}, std::pair{8, 11},
                             std::pair{40, 70}}) {
    EXPECT_NEAR(mcnemar_exact_p(b, c), mcnemar_by_hand(b, c), 1e-12 * mcnemar_by_hand(b, c) + 1e-15) << b << " " << c;
  }
}

TEST(McNemar, RejectsNegativeCounts) {
  expect_input_error([] { mcnemar_exact_p(-1, 3); }, "b = -1");
  expect_input_error([] { mcnemar_exact_p(2, -3); }, "c = -3");
}

}  // namespace
}  // namespace mxg::probe
