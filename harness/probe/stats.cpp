// Statistics of the probe: Wilson interval, truncated Wald SPRT, exact McNemar, and the cost of a
// verdict (questions until the SPRT decides), both simulated and computed exactly.
#include "harness/probe/stats.hpp"

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <fmt/format.h>
#include <vector>

#include "kernels/common/errors.hpp"
#include "kernels/common/splitmix64.hpp"

namespace mxg::probe {
namespace {

// True when lo < x < hi; false for NaN, so every check below also rejects NaN.
bool strictly_between(double x, double lo, double hi) { return x > lo && x < hi; }

// The LLR after n answers of which k were correct. Computed from the counts, never accumulated, so the
// live test and the exact computation see bit-identical values at every (n, k) and agree on ties.
double llr_of_counts(double step_correct, double step_wrong, std::int64_t n, std::int64_t k) {
  return static_cast<double>(k) * step_correct + static_cast<double>(n - k) * step_wrong;
}

// The boundary rule of the SPRT alone (no truncation).
SprtDecision boundary_decision(double llr, double lower, double upper) {
  if (llr >= upper) return SprtDecision::Broken;
  if (llr <= lower) return SprtDecision::Healthy;
  return SprtDecision::Continue;
}

// The fixed rule used when the SPRT is truncated: observed accuracy against the threshold.
SprtDecision fallback_decision(std::int64_t n, std::int64_t k, double threshold) {
  const double accuracy = n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0;
  return accuracy >= threshold ? SprtDecision::Healthy : SprtDecision::Broken;
}

void check_p_true(double p_true) {
  if (!(p_true >= 0.0 && p_true <= 1.0)) {
    throw InputError(fmt::format("--p-true {}: the true accuracy must be in [0, 1]", p_true));
  }
}

// A uniform double in [0, 1) from the top 53 bits of one splitmix64 output.
double uniform01(SplitMix64& rng) { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; }

// The nearest-rank percentile of a histogram of question counts (counts[n] = runs that took n).
std::int64_t percentile(const std::vector<std::int64_t>& counts, std::int64_t runs, double q) {
  const auto rank = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(q * static_cast<double>(runs))));
  std::int64_t seen = 0;
  for (std::size_t n = 0; n < counts.size(); ++n) {
    seen += counts[n];
    if (seen >= rank) return static_cast<std::int64_t>(n);
  }
  return static_cast<std::int64_t>(counts.size()) - 1;
}

// Refuses a config whose test can run on for more than kUntruncatedQuestionCap questions.
[[noreturn]] void throw_unsettled(std::int64_t max_questions, std::string_view how_often) {
  throw InputError(fmt::format(
      "--max-questions {}: the SPRT is still undecided after {} questions ({}); the hypotheses are too close "
      "for this many questions, set --max-questions to at most {}",
      max_questions, kUntruncatedQuestionCap, how_often, kUntruncatedQuestionCap));
}

}  // namespace

Interval wilson_interval(std::int64_t k, std::int64_t n, double z) {
  if (n < 0 || k < 0 || k > n) {
    throw InputError(fmt::format("wilson interval: {} correct out of {} questions is not a proportion", k, n));
  }
  if (!(z > 0.0 && std::isfinite(z))) throw InputError(fmt::format("wilson interval: z {} must be positive", z));
  if (n == 0) return {0.0, 1.0};
  const double nd = static_cast<double>(n);
  const double p_hat = static_cast<double>(k) / nd;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / nd;
  const double centre = (p_hat + z2 / (2.0 * nd)) / denominator;
  const double half_width = z * std::sqrt(p_hat * (1.0 - p_hat) / nd + z2 / (4.0 * nd * nd)) / denominator;
  // Rounding can push an end a few ulps past [0, 1] when k is 0 or n.
  return {std::max(0.0, centre - half_width), std::min(1.0, centre + half_width)};
}

void validate(const SprtConfig& c) {
  if (!strictly_between(c.p_good, 0.0, 1.0)) {
    throw InputError(fmt::format("--p-good {}: the healthy accuracy must be in (0, 1)", c.p_good));
  }
  if (!strictly_between(c.p_bad, 0.0, c.p_good)) {
    throw InputError(fmt::format("--p-bad {}: the broken accuracy must be in (0, --p-good {})", c.p_bad, c.p_good));
  }
  if (!strictly_between(c.alpha, 0.0, 0.5)) {
    throw InputError(fmt::format("--alpha {}: P(broken | healthy) must be in (0, 0.5)", c.alpha));
  }
  if (!strictly_between(c.beta, 0.0, 0.5)) {
    throw InputError(fmt::format("--beta {}: P(healthy | broken) must be in (0, 0.5)", c.beta));
  }
  if (c.max_questions < 0) {
    throw InputError(fmt::format("--max-questions {}: must be >= 0 (0 = no truncation)", c.max_questions));
  }
  if (!(c.fallback_threshold >= 0.0 && c.fallback_threshold <= 1.0)) {
    throw InputError(fmt::format("--min-accuracy {}: the fallback threshold must be in [0, 1]", c.fallback_threshold));
  }
}

std::string_view decision_name(SprtDecision d) {
  switch (d) {
    case SprtDecision::Continue: return "continue";
    case SprtDecision::Healthy: return "healthy";
    case SprtDecision::Broken: return "broken";
  }
  return "continue";
}

Sprt::Sprt(const SprtConfig& config) : config_(config) {
  validate(config_);
  step_correct_ = std::log(config_.p_bad / config_.p_good);
  step_wrong_ = std::log((1.0 - config_.p_bad) / (1.0 - config_.p_good));
  upper_ = std::log((1.0 - config_.beta) / config_.alpha);
  lower_ = std::log(config_.beta / (1.0 - config_.alpha));
}

SprtDecision Sprt::add(bool correct) {
  if (decision_ != SprtDecision::Continue) return decision_;
  ++n_;
  if (correct) ++k_;
  llr_ = llr_of_counts(step_correct_, step_wrong_, n_, k_);
  decision_ = boundary_decision(llr_, lower_, upper_);
  if (decision_ == SprtDecision::Broken) {
    stop_ = SprtStop::UpperBoundary;
  } else if (decision_ == SprtDecision::Healthy) {
    stop_ = SprtStop::LowerBoundary;
  } else if (config_.max_questions > 0 && n_ >= config_.max_questions) {
    decide_by_fallback();
  }
  return decision_;
}

SprtDecision Sprt::decide_by_fallback() {
  if (decision_ != SprtDecision::Continue) return decision_;
  decision_ = fallback_decision(n_, k_, config_.fallback_threshold);
  stop_ = SprtStop::Truncated;
  return decision_;
}

double mcnemar_exact_p(std::int64_t b, std::int64_t c) {
  if (b < 0 || c < 0) {
    throw InputError(fmt::format("mcnemar: discordant pair counts must be >= 0, got b = {}, c = {}", b, c));
  }
  if (b + c == 0) return 1.0;
  const boost::math::binomial_distribution<double> discordant(static_cast<double>(b + c), 0.5);
  const double tail = boost::math::cdf(discordant, static_cast<double>(std::min(b, c)));
  return std::min(1.0, 2.0 * tail);
}

VerdictSimulation simulate_questions_to_verdict(double p_true, const SprtConfig& config, std::int64_t runs,
                                                std::uint64_t seed) {
  check_p_true(p_true);
  if (runs <= 0) throw InputError(fmt::format("--runs {}: must be >= 1", runs));
  const Sprt fresh(config);  // validates once; each run starts from a copy
  SplitMix64 rng{seed};
  std::vector<std::int64_t> runs_by_questions;  // [n] = runs that ended after n questions
  std::int64_t broken = 0, truncated = 0;
  double total_questions = 0;
  for (std::int64_t r = 0; r < runs; ++r) {
    Sprt test = fresh;
    while (test.decision() == SprtDecision::Continue) {
      if (test.observations() == kUntruncatedQuestionCap) {
        throw_unsettled(config.max_questions, fmt::format("in simulated run {}", r));
      }
      test.add(uniform01(rng) < p_true);
    }
    const auto n = static_cast<std::size_t>(test.observations());
    if (runs_by_questions.size() <= n) runs_by_questions.resize(n + 1, 0);
    ++runs_by_questions[n];
    total_questions += static_cast<double>(n);
    if (test.decision() == SprtDecision::Broken) ++broken;
    if (test.stop() == SprtStop::Truncated) ++truncated;
  }
  VerdictSimulation s;
  s.runs = runs;
  const double rd = static_cast<double>(runs);
  s.mean_questions = total_questions / rd;
  s.p50 = percentile(runs_by_questions, runs, 0.50);
  s.p90 = percentile(runs_by_questions, runs, 0.90);
  s.p99 = percentile(runs_by_questions, runs, 0.99);
  s.max = static_cast<std::int64_t>(runs_by_questions.size()) - 1;
  s.broken_rate = static_cast<double>(broken) / rd;
  s.truncated_rate = static_cast<double>(truncated) / rd;
  return s;
}

ExactVerdictCost exact_questions_to_verdict(double p_true, const SprtConfig& config) {
  check_p_true(p_true);
  const Sprt shape(config);  // validates; supplies the steps and boundaries
  // The undecided states after n answers: undecided[j] = P(no verdict yet, k = k_first + j correct).
  // The LLR falls as k rises, so the undecided k form one run whose width stays bounded as n grows.
  std::vector<double> undecided{1.0}, next;  // both keep their capacity from step to step
  std::int64_t k_first = 0;
  ExactVerdictCost cost;
  constexpr double kNegligibleMass = 1e-12;
  for (std::int64_t n = 1;; ++n) {
    // One more answer: from (n-1, k) to (n, k+1) with p_true and to (n, k) with 1 - p_true.
    next.assign(undecided.size() + 1, 0.0);
    for (std::size_t j = 0; j < undecided.size(); ++j) {
      next[j] += undecided[j] * (1.0 - p_true);
      next[j + 1] += undecided[j] * p_true;
    }
    const bool truncate_here = config.max_questions > 0 && n == config.max_questions;
    std::size_t first_left = next.size(), last_left = 0;
    double left_mass = 0;
    for (std::size_t j = 0; j < next.size(); ++j) {
      const std::int64_t k = k_first + static_cast<std::int64_t>(j);
      SprtDecision d = boundary_decision(llr_of_counts(shape.step_correct(), shape.step_wrong(), n, k), shape.lower(),
                                         shape.upper());
      if (d == SprtDecision::Continue && truncate_here) {
        d = fallback_decision(n, k, config.fallback_threshold);
        cost.p_truncated += next[j];
      }
      if (d == SprtDecision::Continue) {
        first_left = std::min(first_left, j);
        last_left = j;
        left_mass += next[j];
        continue;
      }
      cost.expected_questions += static_cast<double>(n) * next[j];
      if (d == SprtDecision::Broken) cost.p_broken += next[j];
      next[j] = 0.0;
    }
    if (first_left == next.size() || left_mass < kNegligibleMass) break;
    if (n == kUntruncatedQuestionCap) {
      throw_unsettled(config.max_questions, fmt::format("probability {:.3g}", left_mass));
    }
    undecided.assign(next.begin() + static_cast<std::ptrdiff_t>(first_left),
                     next.begin() + static_cast<std::ptrdiff_t>(last_left) + 1);
    k_first += static_cast<std::int64_t>(first_left);
  }
  return cost;
}

}  // namespace mxg::probe
