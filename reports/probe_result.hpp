// The result record of a GSM8K probe run: one record per question (probe.jsonl) and the run summary
// (probe.json). Every probe printer (JSON, JUnit, Markdown, console) reads these structs only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mxg::report {

inline constexpr int kProbeSchema = 1;  // "schema" of probe.jsonl lines and probe.json

// One generated token with the server's log-probabilities (OpenAI "logprobs"; recorded with
// `probe --top-logprobs K`): the token's text, its logprob, and the K most likely tokens at that step.
struct ProbeToken {
  std::string text;
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;  // most likely first, as the server sent them
};

struct ProbeQuestionRecord {
  std::int64_t index = 0;   // position among the scored questions (0-based)
  std::int64_t line = 0;    // line of the dataset file
  std::int64_t order = 0;   // position in the seeded permutation: the order the sequential test sees
  std::string prompt_hash;  // first 16 hex digits of sha256(prompt): proves two runs asked the same
  std::string response;
  std::optional<std::string> extracted;  // nullopt = invalid (no number)
  std::string label;
  bool correct = false;
  bool degenerate = false;     // digit soup or a repeated fragment
  std::string finish_reason;   // "stop", "length", ... ("" when the request failed)
  std::optional<std::int64_t> completion_tokens;
  double latency_s = 0;        // submit to final outcome, retries included
  int attempts = 0;
  std::string error;           // non-empty: an infrastructure failure; the question is not scored
  std::vector<ProbeToken> tokens;  // empty unless logprobs were requested and returned
};

struct ProbeSprtState {
  std::string decision;  // "healthy", "broken", "continue"
  std::string stop;      // "upper boundary", "lower boundary", "fallback", "none"
  double llr = 0, lower = 0, upper = 0;
  std::int64_t observations = 0, correct = 0;
};

// The pre-merge gate's state (harness/probe/gate.hpp): what it read and the rule it applied.
struct ProbeGateState {
  std::string decision;        // "pass", "fail", "continue"
  std::string stop;            // "collapse", "curtailed", "final", "none"
  std::int64_t questions = 0;  // the fixed question set
  std::int64_t min_correct = 0;
  std::int64_t observations = 0, correct = 0;
  double llr = 0, collapse_boundary = 0;
  double false_failure = 0;    // exact P(fail) of this gate at the healthy accuracy
  double p_good = 0, p_collapse = 0;
};

struct ProbePairedComparison {
  std::string baseline_path;
  std::int64_t paired = 0;          // questions answered in both runs with the same prompt hash
  std::int64_t baseline_only = 0;   // b: right in the baseline, wrong now
  std::int64_t candidate_only = 0;  // c: wrong in the baseline, right now
  double p_value = 1;               // exact McNemar, two-sided
  double alpha = 0.05;
  bool regression = false;          // b > c and p < alpha
};

// Greedy-answer agreement with a baseline run (`probe --agree-with`): the signal that needs no
// accuracy. A question agrees when both answers are identical, or, with logprobs on both sides, when
// at the first token where they part each side's token is among the other side's top-k candidates
// (a near-tie that rounding may flip); otherwise it diverges.
struct ProbeDivergence {
  std::int64_t index = 0;
  std::int64_t char_offset = 0;           // first differing byte of the two responses
  std::optional<std::int64_t> token;      // first differing token position (with logprobs on both sides)
  std::string baseline_excerpt, current_excerpt;  // a few bytes from the divergence on
  bool close = false;                     // within top-k: counted as agreeing
};

struct ProbeAgreement {
  std::string baseline_path;
  std::int64_t compared = 0;    // answered in both runs with the same prompt hash
  std::int64_t identical = 0;   // byte-identical responses
  std::int64_t close = 0;       // different, but within the top-k rule
  std::int64_t diverged = 0;    // different beyond it
  std::int64_t with_logprobs = 0;  // compared questions where both sides carry token logprobs
  int top_k = 0;                // the rule's k (0: logprobs not used)
  double min_agreement = 1;     // required (identical + close) / compared
  double agreement = 0;         // (identical + close) / compared
  bool disagrees = false;       // agreement < min_agreement
  std::vector<ProbeDivergence> divergences;  // every question that is not identical, by index
};

enum class ProbeVerdict { Pass, Regression, Infra, Interrupted };
const char* probe_verdict_name(ProbeVerdict v);  // "PASS", "REGRESSION", "INFRA", "INTERRUPTED"

struct ProbeSummary {
  std::string tool_version, started_at, finished_at;
  nlohmann::json config = nlohmann::json::object();  // every option that shaped the run (never a secret)
  nlohmann::json server = nlohmann::json::object();  // what the server says it is
  std::int64_t planned = 0;   // questions the run may ask
  std::int64_t answered = 0, correct = 0, invalid = 0, errors = 0, truncated = 0, degenerate = 0;
  double accuracy = 0;        // correct / answered
  double wilson_lo = 0, wilson_hi = 1;
  double wall_s = 0;          // the batch (SGLang's "Latency")
  std::int64_t completion_tokens = 0;
  double output_throughput = 0;  // completion tokens / wall_s
  double latency_p50 = 0, latency_p90 = 0, latency_max = 0;
  std::string stop_rule;     // "fixed", "sprt" or "gate"
  std::string stop_reason;   // one sentence
  std::optional<ProbeSprtState> sprt;
  std::optional<ProbeGateState> gate;
  std::optional<double> min_accuracy;  // the accuracy threshold the verdict applied (none: no threshold applied)
  std::optional<ProbePairedComparison> paired;
  std::optional<ProbeAgreement> agreement;
  ProbeVerdict verdict = ProbeVerdict::Pass;
  std::vector<std::string> reasons;  // why the verdict (each a sentence)
  int exit_code = 0;
};

}  // namespace mxg::report
