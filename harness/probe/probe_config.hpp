// Everything that shapes a probe run, as parsed from the command line (harness/commands/probe.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "harness/probe/extract.hpp"
#include "harness/probe/gate.hpp"
#include "harness/probe/http_pool.hpp"
#include "harness/probe/server_api.hpp"
#include "harness/probe/stats.hpp"

namespace mxg::probe {

enum class StopRule { Fixed, Sprt, Gate };
enum class ShotSource { Test, Train };

struct ProbeConfig {
  // Server.
  HttpPoolOptions http;      // base_url, bearer token, max_in_flight (= --parallel), per-attempt timeout
  std::string api_key_env;   // the variable's name (for messages); the key itself is in http.bearer_token
  Api api = Api::Sglang;
  std::optional<std::string> model;  // else discovered
  RetryPolicy retry;
  double wait_ready_s = 0;
  bool warmup = true;
  // Questions.
  std::filesystem::path data;                      // GSM8K JSONL scored (SGLang: test.jsonl)
  ShotSource shots_from = ShotSource::Test;
  std::optional<std::filesystem::path> train_data;  // with --shots-from train
  int num_shots = 5;
  std::int64_t num_questions = 200;  // the first N lines; 0 = all
  std::uint64_t seed = 0;            // permutation: submission order and the order the SPRT sees
  Extractor extractor = Extractor::Sglang;
  SamplingParams sampling;
  // Decision.
  StopRule stop = StopRule::Fixed;
  SprtConfig sprt;                    // with StopRule::Sprt (max_questions = the planned questions)
  GateConfig gate;                    // with StopRule::Gate (questions = the planned questions)
  std::optional<double> min_accuracy;
  std::optional<std::filesystem::path> baseline;  // probe.jsonl of a reference run: paired comparison
  // Two-sided level of the paired test; unset: the gate's budget (see effective_paired_alpha), else 0.05.
  std::optional<double> paired_alpha;
  std::optional<std::filesystem::path> agree_with;  // probe.jsonl of a reference run: greedy-answer agreement
  double min_agreement = 1.0;         // required share of agreeing questions (agreement.hpp)
  double max_error_rate = 0.05;       // errors / planned above this: stop, infrastructure failure
  // Output.
  std::filesystem::path out_dir = "probe-out";
  bool resume = false;                // reuse answered questions of out_dir/probe.jsonl
  double progress_interval_s = 5;
};

// Checks option ranges, finiteness and combinations; bad -> mxg::InputError naming the option.
void validate(const ProbeConfig& c);

// With the gate and a baseline the false-failure budget --gate-alpha is split: half to the accuracy
// gate, and the paired test runs at two-sided level --gate-alpha, which fails an unchanged server (only
// losses fail it) with probability at most --gate-alpha / 2. Without a baseline the gate gets it all.
GateConfig effective_gate(const ProbeConfig& c, std::int64_t questions);
double effective_paired_alpha(const ProbeConfig& c);

// The gate's default question count when --num-questions is not given: 400 (STATISTICS.md).
inline constexpr std::int64_t kGateDefaultQuestions = 400;

}  // namespace mxg::probe
