// The pre-merge gate (rules and why: gate.hpp).
#include "harness/probe/gate.hpp"

#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <fmt/format.h>
#include <vector>

#include "harness/probe/stats.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/splitmix64.hpp"

namespace mxg::probe {
namespace {

bool strictly_between(double x, double lo, double hi) { return x > lo && x < hi; }  // false for NaN

// The largest question set the gate accepts: the exact computation is O(questions^2).
constexpr std::int64_t kMaxGateQuestions = 20000;

void check_p_true(double p) {
  if (!(p >= 0.0 && p <= 1.0)) throw InputError(fmt::format("--p-true {}: the true accuracy must be in [0, 1]", p));
}

GatePlan shape_of(const GateConfig& c, std::int64_t min_correct) {
  GatePlan p;
  p.config = c;
  p.min_correct = min_correct;
  p.step_correct = std::log(c.p_collapse / c.p_good);
  p.step_wrong = std::log((1.0 - c.p_collapse) / (1.0 - c.p_good));
  p.upper = std::log(1.0 / c.collapse_alpha);
  return p;
}

}  // namespace

void validate(const GateConfig& c) {
  if (!strictly_between(c.p_good, 0.0, 1.0)) {
    throw InputError(fmt::format("--p-good {}: the healthy accuracy must be in (0, 1)", c.p_good));
  }
  if (!strictly_between(c.p_collapse, 0.0, c.p_good)) {
    throw InputError(fmt::format("--p-bad {}: the collapsed accuracy must be in (0, --p-good {})", c.p_collapse, c.p_good));
  }
  if (!strictly_between(c.alpha, 0.0, 0.5)) {
    throw InputError(fmt::format("--gate-alpha {}: the false-failure budget must be in (0, 0.5)", c.alpha));
  }
  if (!strictly_between(c.collapse_alpha, 0.0, c.alpha) && !(c.collapse_alpha == c.alpha)) {
    throw InputError(fmt::format("--collapse-alpha {}: must be in (0, --gate-alpha {}]", c.collapse_alpha, c.alpha));
  }
  if (c.questions < 1 || c.questions > kMaxGateQuestions) {
    throw InputError(fmt::format("--num-questions {}: the gate needs a fixed question set of 1 to {} questions",
                                 c.questions, kMaxGateQuestions));
  }
}

std::string_view gate_stop_name(GateStop s) {
  switch (s) {
    case GateStop::None: return "none";
    case GateStop::Collapse: return "collapse";
    case GateStop::Curtailed: return "curtailed";
    case GateStop::Final: return "final";
  }
  return "none";
}

double gate_llr(const GatePlan& plan, std::int64_t n, std::int64_t k) {
  // From the counts, never accumulated: the live gate and the exact computation agree on ties.
  return static_cast<double>(k) * plan.step_correct + static_cast<double>(n - k) * plan.step_wrong;
}

GateState gate_state(const GatePlan& plan, std::int64_t n, std::int64_t k) {
  const std::int64_t total = plan.config.questions;
  if (gate_llr(plan, n, k) >= plan.upper) return {GateDecision::Fail, GateStop::Collapse};
  if (k + (total - n) < plan.min_correct) return {GateDecision::Fail, GateStop::Curtailed};
  if (n >= total) return {GateDecision::Pass, GateStop::Final};  // k >= min_correct here
  return {};
}

GateDecision Gate::add(bool correct) {
  if (state_.decision != GateDecision::Continue) return state_.decision;
  ++n_;
  if (correct) ++k_;
  state_ = gate_state(plan_, n_, k_);
  return state_.decision;
}

GateOc exact_gate_oc(double p_true, const GatePlan& plan) {
  check_p_true(p_true);
  const std::int64_t total = plan.config.questions;
  // undecided[k] = P(no verdict after n answers, k of them right).
  std::vector<double> undecided{1.0}, next;
  GateOc oc;
  for (std::int64_t n = 1; n <= total; ++n) {
    next.assign(undecided.size() + 1, 0.0);
    for (std::size_t k = 0; k < undecided.size(); ++k) {
      next[k] += undecided[k] * (1.0 - p_true);
      next[k + 1] += undecided[k] * p_true;
    }
    for (std::size_t k = 0; k < next.size(); ++k) {
      if (next[k] == 0.0) continue;
      const GateState s = gate_state(plan, n, static_cast<std::int64_t>(k));
      if (s.decision == GateDecision::Continue) continue;
      oc.expected_questions += static_cast<double>(n) * next[k];
      if (s.decision == GateDecision::Fail) oc.p_fail += next[k];
      if (s.stop == GateStop::Collapse) oc.p_collapse_stop += next[k];
      next[k] = 0.0;
    }
    undecided.swap(next);
  }
  return oc;
}

GatePlan plan_gate(const GateConfig& c) {
  validate(c);
  const auto fail_at_good = [&](std::int64_t min_correct) {
    return exact_gate_oc(c.p_good, shape_of(c, min_correct)).p_fail;
  };
  // P(fail | p_good) rises with min_correct: bisect for the largest count within the budget. Count 0
  // leaves only the collapse stage, whose false alarms stay below collapse_alpha <= alpha (Ville's
  // inequality: the likelihood ratio is a martingale under p_good), so the budget always admits it.
  std::int64_t lo = 0, hi = c.questions + 1;  // fail_at_good(lo) <= alpha < fail_at_good(hi) (hi: never passes)
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (fail_at_good(mid) <= c.alpha ? lo : hi) = mid;
  }
  GatePlan plan = shape_of(c, lo);
  plan.false_failure = fail_at_good(lo);
  return plan;
}

GateSimulation simulate_gate(double p_true, const GatePlan& plan, std::int64_t runs, std::uint64_t seed) {
  check_p_true(p_true);
  if (runs < 1) throw InputError(fmt::format("--runs {}: must be >= 1", runs));
  SplitMix64 rng{seed};
  GateSimulation sim;
  sim.runs = runs;
  double fails = 0, questions = 0;
  for (std::int64_t r = 0; r < runs; ++r) {
    Gate g(plan);
    // A uniform double in [0, 1) from the top 53 bits.
    while (g.decision() == GateDecision::Continue) g.add(static_cast<double>(rng.next() >> 11) * 0x1.0p-53 < p_true);
    fails += g.decision() == GateDecision::Fail ? 1 : 0;
    questions += static_cast<double>(g.observations());
  }
  sim.p_fail = fails / static_cast<double>(runs);
  sim.mean_questions = questions / static_cast<double>(runs);
  return sim;
}

double exact_paired_fail_probability(std::int64_t n, double p_lost, double p_gained, double alpha) {
  if (n < 1) throw InputError(fmt::format("paired test: {} questions, need at least 1", n));
  if (!(p_lost >= 0 && p_gained >= 0 && p_lost + p_gained <= 1.0)) {
    throw InputError(fmt::format("paired test: P(lost) {} and P(gained) {} must be >= 0 with a sum <= 1", p_lost, p_gained));
  }
  if (!strictly_between(alpha, 0.0, 1.0)) throw InputError(fmt::format("--paired-alpha {}: must be in (0, 1)", alpha));
  const double p_discordant = p_lost + p_gained;
  if (p_discordant == 0.0) return 0.0;
  const boost::math::binomial_distribution<double> discordant(static_cast<double>(n), p_discordant);
  const double q_lost = p_lost / p_discordant;
  double p_fail = 0;
  for (std::int64_t m = 1; m <= n; ++m) {
    // The fewest lost of m discordant questions that fail the gate (the p-value falls as b grows past m/2).
    std::int64_t b_min = m / 2 + 1;
    while (b_min <= m && !(mcnemar_exact_p(b_min, m - b_min) < alpha)) ++b_min;
    if (b_min > m) continue;
    const boost::math::binomial_distribution<double> lost(static_cast<double>(m), q_lost);
    const double p_enough_lost = b_min == 0 ? 1.0 : boost::math::cdf(boost::math::complement(lost, static_cast<double>(b_min - 1)));
    p_fail += boost::math::pdf(discordant, static_cast<double>(m)) * p_enough_lost;
  }
  return p_fail;
}

}  // namespace mxg::probe
