// Option checks of a probe run (ranges and combinations named by their command-line spelling).
#include "harness/probe/probe_config.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::probe {

namespace {
void require(bool ok, const std::string& message) {
  if (!ok) throw InputError(message);
}
}  // namespace

void validate(const ProbeConfig& c) {
  require(!c.http.base_url.empty(), "--base-url is empty");
  require(c.http.base_url.starts_with("http://") || c.http.base_url.starts_with("https://"),
          fmt::format("--base-url {}: must start with http:// or https://", c.http.base_url));
  require(c.http.max_in_flight >= 1 && c.http.max_in_flight <= 4096,
          fmt::format("--parallel {}: must be in [1, 4096]", c.http.max_in_flight));
  require(c.http.timeout_s > 0, fmt::format("--timeout {}: must be > 0 seconds", c.http.timeout_s));
  require(c.retry.retries >= 0 && c.retry.retries <= 100, fmt::format("--retries {}: must be in [0, 100]", c.retry.retries));
  require(c.wait_ready_s >= 0, fmt::format("--wait-ready {}: must be >= 0 seconds", c.wait_ready_s));
  require(c.num_shots >= 0 && c.num_shots <= 64, fmt::format("--num-shots {}: must be in [0, 64]", c.num_shots));
  require(c.num_questions >= 0, fmt::format("--num-questions {}: must be >= 0 (0 = all)", c.num_questions));
  require(c.sampling.max_new_tokens >= 1, fmt::format("--max-new-tokens {}: must be >= 1", c.sampling.max_new_tokens));
  require(c.max_error_rate >= 0 && c.max_error_rate <= 1,
          fmt::format("--max-error-rate {}: must be in [0, 1]", c.max_error_rate));
  if (c.paired_alpha) {
    require(*c.paired_alpha > 0 && *c.paired_alpha < 1, fmt::format("--paired-alpha {}: must be in (0, 1)", *c.paired_alpha));
  }
  if (c.min_accuracy) {
    require(*c.min_accuracy >= 0 && *c.min_accuracy <= 1,
            fmt::format("--min-accuracy {}: must be in [0, 1]", *c.min_accuracy));
  }
  require(c.min_agreement >= 0 && c.min_agreement <= 1,
          fmt::format("--min-agreement {}: must be in [0, 1]", c.min_agreement));
  require(c.sampling.top_logprobs >= 0 && c.sampling.top_logprobs <= 20,
          fmt::format("--top-logprobs {}: must be in [0, 20] (the OpenAI APIs return at most 20)", c.sampling.top_logprobs));
  require(c.sampling.top_logprobs == 0 || c.api != Api::Sglang,
          fmt::format("--top-logprobs {}: needs --api completions or chat", c.sampling.top_logprobs));
  require(c.stop != StopRule::Gate || !c.min_accuracy,
          "--min-accuracy: the gate (--stop gate) derives its threshold from --p-good and --gate-alpha; use "
          "--stop fixed --min-accuracy A for a plain threshold");
  // Every decision option is checked whichever rule runs: a NaN or out-of-range value is never ignored.
  SprtConfig sprt = c.sprt;
  sprt.max_questions = 0;
  sprt.fallback_threshold = c.min_accuracy.value_or(0.0);
  validate(sprt);
  GateConfig gate = c.gate;
  gate.questions = std::max<std::int64_t>(1, gate.questions);
  validate(gate);
  require(c.shots_from == ShotSource::Train || !c.train_data,
          "--train-data is only used with --shots-from train");
}

GateConfig effective_gate(const ProbeConfig& c, std::int64_t questions) {
  GateConfig g = c.gate;
  g.questions = questions;
  if (c.baseline) {
    g.alpha /= 2;
    g.collapse_alpha = std::min(g.collapse_alpha, g.alpha);
  }
  return g;
}

double effective_paired_alpha(const ProbeConfig& c) {
  if (c.paired_alpha) return *c.paired_alpha;
  return c.stop == StopRule::Gate ? c.gate.alpha : 0.05;
}

}  // namespace mxg::probe
