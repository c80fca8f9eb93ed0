// Statistics of the probe: Wilson score interval, Wald's sequential probability ratio test with
// truncation, exact McNemar for paired runs, and a simulator of questions-to-verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mxg::probe {

struct Interval {
  double lo = 0, hi = 0;
};
// Wilson score interval for k successes out of n (PROBE.md formula). n == 0 -> [0, 1].
Interval wilson_interval(std::int64_t k, std::int64_t n, double z = 1.96);

// H0: the server is healthy (accuracy p_good); H1: it is broken (accuracy p_bad), p_bad < p_good.
struct SprtConfig {
  double p_good = 0.88;
  double p_bad = 0.21;
  double alpha = 0.01;  // P(say broken | healthy)
  double beta = 0.01;   // P(say healthy | broken)
  // Truncation: after this many observations without a boundary crossing, decide by the fixed rule
  // accuracy >= fallback_threshold. 0 = never truncate.
  std::int64_t max_questions = 0;
  double fallback_threshold = 0.0;
};
// Validates the config (0 < p_bad < p_good < 1, 0 < alpha, beta < 0.5, max_questions >= 0,
// fallback in [0,1]); bad values -> mxg::InputError naming the option (--p-good, --p-bad, ...).
void validate(const SprtConfig& c);

enum class SprtDecision { Continue, Healthy, Broken };
std::string_view decision_name(SprtDecision d);  // "continue", "healthy", "broken"

// How the decision was reached.
enum class SprtStop { None, UpperBoundary, LowerBoundary, Truncated };

// Log-likelihood ratio log L(p_bad)/L(p_good): a correct answer adds log(p_bad/p_good) (< 0), a wrong
// one log((1-p_bad)/(1-p_good)) (> 0). Broken when llr >= log((1-beta)/alpha), healthy when
// llr <= log(beta/(1-alpha)). Once decided, further observations are ignored (the decision sticks).
class Sprt {
 public:
  explicit Sprt(const SprtConfig& config);  // validates
  SprtDecision add(bool correct);           // returns the decision after this observation
  SprtDecision decision() const { return decision_; }
  SprtStop stop() const { return stop_; }
  double llr() const { return llr_; }
  double upper() const { return upper_; }  // log((1-beta)/alpha)
  double lower() const { return lower_; }  // log(beta/(1-alpha))
  double step_correct() const { return step_correct_; }
  double step_wrong() const { return step_wrong_; }
  std::int64_t observations() const { return n_; }
  std::int64_t correct() const { return k_; }
  // Fixed-rule decision on what has been seen, for a run that ends (questions exhausted) before a
  // boundary: accuracy >= fallback_threshold -> Healthy, else Broken. Marks stop() = Truncated.
  SprtDecision decide_by_fallback();

 private:
  SprtConfig config_;
  double llr_ = 0, upper_ = 0, lower_ = 0, step_correct_ = 0, step_wrong_ = 0;
  std::int64_t n_ = 0, k_ = 0;
  SprtDecision decision_ = SprtDecision::Continue;
  SprtStop stop_ = SprtStop::None;
};

// Exact two-sided McNemar test on the discordant pairs of a paired comparison: b = right in the
// baseline only, c = right in the candidate only. p = min(1, 2 * P[Bin(b+c, 1/2) <= min(b, c)])
// (Boost.Math binomial CDF). b + c == 0 -> 1.
double mcnemar_exact_p(std::int64_t b, std::int64_t c);

// Monte Carlo of the SPRT on independent Bernoulli(p_true) answers (splitmix64-seeded, the same on
// every platform): how many questions until a verdict and how often that verdict is Broken. A run
// that reaches max_questions decides by the fallback rule; with max_questions == 0 it runs until a
// boundary is crossed (the SPRT terminates with probability 1).
struct VerdictSimulation {
  std::int64_t runs = 0;
  double mean_questions = 0;
  std::int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
  double broken_rate = 0;     // fraction of runs ending Broken
  double truncated_rate = 0;  // fraction ending by the fallback rule
};
VerdictSimulation simulate_questions_to_verdict(double p_true, const SprtConfig& config, std::int64_t runs,
                                                std::uint64_t seed);

// Without truncation the SPRT ends with probability 1 but not within any fixed bound: a run (or the
// exact computation below) that is still undecided after this many questions is refused with
// mxg::InputError naming --max-questions, rather than looping on a config whose hypotheses are too close.
inline constexpr std::int64_t kUntruncatedQuestionCap = 100000;

// The same quantities as the simulator, computed exactly (no sampling): the LLR depends only on the
// counts (n, k), so a dynamic programme over the undecided (n, k) states gives the probability of
// stopping at each n. With max_questions > 0 it is exact; with max_questions == 0 it runs until the
// undecided probability falls below 1e-12 (that remainder is left out of all three figures).
struct ExactVerdictCost {
  double expected_questions = 0;  // E[questions until a verdict]
  double p_broken = 0;            // P(verdict Broken), boundary or fallback
  double p_truncated = 0;         // P(verdict reached by the fallback rule)
};
ExactVerdictCost exact_questions_to_verdict(double p_true, const SprtConfig& config);

}  // namespace mxg::probe
