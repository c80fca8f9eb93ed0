// The pre-merge accuracy gate: a collapse stage that can stop after a few questions, then, unless it
// stopped, a fixed-size test on the whole seeded question set whose critical count is chosen so that
// the exact false-failure rate at the healthy accuracy stays within a stated budget. Its operating
// characteristics (P(fail), expected questions) are computed exactly over the same decision function
// the live run uses (STATISTICS.md, "The pre-merge gate").
#pragma once

#include <cstdint>
#include <string_view>

namespace mxg::probe {

struct GateConfig {
  double p_good = 0.88;             // the healthy accuracy on this question set (--p-good)
  double p_collapse = 0.21;         // the collapse the first stage looks for (--p-bad)
  double collapse_alpha = 0.0002;   // Ville bound on the collapse stage's false alarms (--collapse-alpha)
  double alpha = 0.001;             // false-failure budget of the whole gate at p_good (--gate-alpha)
  std::int64_t questions = 400;     // the fixed question set (--num-questions)
};

// Checks ranges and finiteness; bad -> mxg::InputError naming the option.
void validate(const GateConfig& c);

// The gate with its critical count resolved.
struct GatePlan {
  GateConfig config;
  std::int64_t min_correct = 0;  // the final test passes with at least this many right of `questions`
  double step_correct = 0, step_wrong = 0, upper = 0;  // the collapse stage's LLR steps and boundary
  double false_failure = 0;      // exact P(fail) at p_good with min_correct
};

// Chooses min_correct: the largest count whose exact P(fail | p_good) is within alpha (the power
// against any lower accuracy is then as high as the budget allows).
GatePlan plan_gate(const GateConfig& c);

enum class GateStop { None, Collapse, Curtailed, Final };
std::string_view gate_stop_name(GateStop s);  // "none", "collapse", "curtailed", "final"

enum class GateDecision { Continue, Pass, Fail };

// The decision after n answers of which k were right. Shared by the live gate and the exact
// computation, so the published numbers are those of the rule that runs.
//  - collapse: the LLR of p_collapse against p_good reaches ln(1 / collapse_alpha);
//  - curtailed: even if every remaining question were right, fewer than min_correct would be;
//  - final: all questions answered: pass iff k >= min_correct.
struct GateState {
  GateDecision decision = GateDecision::Continue;
  GateStop stop = GateStop::None;
};
GateState gate_state(const GatePlan& plan, std::int64_t n, std::int64_t k);
double gate_llr(const GatePlan& plan, std::int64_t n, std::int64_t k);

class Gate {
 public:
  explicit Gate(const GatePlan& plan) : plan_(plan) {}
  GateDecision add(bool correct);  // ignored once decided
  GateDecision decision() const { return state_.decision; }
  GateStop stop() const { return state_.stop; }
  std::int64_t observations() const { return n_; }
  std::int64_t correct() const { return k_; }
  double llr() const { return gate_llr(plan_, n_, k_); }
  const GatePlan& plan() const { return plan_; }

 private:
  GatePlan plan_;
  GateState state_;
  std::int64_t n_ = 0, k_ = 0;
};

// Exact operating characteristics at a true accuracy, answers i.i.d. Bernoulli(p_true).
struct GateOc {
  double p_fail = 0;              // P(verdict fail), any stage
  double p_collapse_stop = 0;     // P(the collapse stage fails it)
  double expected_questions = 0;  // E[questions until the verdict]
};
GateOc exact_gate_oc(double p_true, const GatePlan& plan);

// Monte Carlo of the live Gate class on i.i.d. Bernoulli(p_true) answers drawn from mxg::SplitMix64
// (the same on every platform), to set beside the exact numbers.
struct GateSimulation {
  std::int64_t runs = 0;
  double p_fail = 0, mean_questions = 0;
};
GateSimulation simulate_gate(double p_true, const GatePlan& plan, std::int64_t runs, std::uint64_t seed);

// Paired comparison with a baseline on the same n questions: each question is independently lost
// (right in the baseline, wrong now) with probability p_lost and gained with p_gained. The gate fails
// when more are lost than gained and the exact two-sided McNemar p-value is below alpha. Exact
// P(fail), summed over the number of discordant questions.
double exact_paired_fail_probability(std::int64_t n, double p_lost, double p_gained, double alpha);

}  // namespace mxg::probe
