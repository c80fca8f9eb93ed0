// `mxguard probe`: the end-to-end GSM8K probe against a live server (SGLang few-shot parity,
// sequential early stop, paired baseline), plus `probe fetch-data` and `probe simulate`.
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "harness/interrupt.hpp"
#include "harness/probe/fetch_data.hpp"
#include "harness/probe/gate.hpp"
#include "harness/probe/runner.hpp"
#include "harness/probe/stats.hpp"
#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::cli {
namespace {

struct ProbeCliOptions {
  probe::ProbeConfig config;
  std::string api = "sglang", extract = "sglang", stop = "gate", shots_from = "test";
  std::string data, train_data, baseline, agree_with, out = "probe-out", model;
  int top_logprobs = -1;  // -1: 5 with --agree-with on an OpenAI API, else 0
  bool num_questions_given = false, stop_given = false;
  bool no_warmup = false, bisect = false, quiet = false;
};

// The closeness rule's k when --agree-with is given without --top-logprobs (vLLM's model tests use 5).
constexpr int kDefaultAgreementTopK = 5;

// git bisect run reads 125 as "skip this commit" and >= 128 as "abort the bisect" (PROBE.md).
int bisect_exit_code(int rc, bool server_not_ready) {
  switch (rc) {
    case exit_code::kPass: return exit_code::kPass;
    case exit_code::kRegression: return exit_code::kRegression;
    case exit_code::kInfra: return server_not_ready ? exit_code::kBisectSkip : exit_code::kBisectAbort;
    default: return exit_code::kBisectAbort;  // bad input or interrupted: not this commit's fault
  }
}

// A model's output quoted on one line (JSON string syntax; invalid UTF-8 replaced).
std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_agreement(const report::ProbeAgreement& a) {
  constexpr std::size_t kShown = 5;
  fmt::print("Agreement with {}: {}\n", a.baseline_path, report::agreement_line(a));
  for (std::size_t i = 0; i < a.divergences.size() && i < kShown; ++i) {
    const auto& d = a.divergences[i];
    const std::string token = d.token ? fmt::format(", token {}", *d.token) : "";
    fmt::print("  question {}: differs at byte {}{} ({}): baseline {} now {}\n", d.index, d.char_offset, token,
               d.close ? fmt::format("within top-{}", a.top_k) : "diverged", quoted(d.baseline_excerpt),
               quoted(d.current_excerpt));
  }
  if (a.divergences.size() > kShown) fmt::print("  ... {} more in probe.json\n", a.divergences.size() - kShown);
}

int run_probe_command(ProbeCliOptions o) {
  auto& c = o.config;
  const auto api = probe::parse_api(o.api);
  if (!api) throw InputError(fmt::format("--api {}: expected sglang, completions or chat", o.api));
  c.api = *api;
  const auto ex = probe::parse_extractor(o.extract);
  if (!ex) throw InputError(fmt::format("--extract {}: expected sglang, strict-match or flexible-extract", o.extract));
  c.extractor = *ex;
  // --min-accuracy without --stop asks for the upstream CI's fixed threshold rule; --agree-with without
  // either gates on agreement alone (it needs no accuracy: a random-weight model agrees with itself).
  if (!o.stop_given && (c.min_accuracy || !o.agree_with.empty())) o.stop = "fixed";
  c.stop = o.stop == "sprt" ? probe::StopRule::Sprt : o.stop == "gate" ? probe::StopRule::Gate : probe::StopRule::Fixed;
  // One healthy and one collapsed accuracy, whichever rule reads them.
  c.gate.p_good = c.sprt.p_good;
  c.gate.p_collapse = c.sprt.p_bad;
  if (c.stop == probe::StopRule::Gate && !o.num_questions_given) c.num_questions = probe::kGateDefaultQuestions;
  if (c.stop == probe::StopRule::Fixed && !c.min_accuracy && o.baseline.empty() && o.agree_with.empty()) {
    throw InputError("--stop fixed needs --min-accuracy A, --baseline F or --agree-with F: without one, every server "
                     "would pass (use --min-accuracy 0 to only measure)");
  }
  c.shots_from = o.shots_from == "train" ? probe::ShotSource::Train : probe::ShotSource::Test;
  // Not a CLI11 required option: it would be demanded of `probe fetch-data` and `probe simulate` too.
  if (o.data.empty()) throw InputError("--data PATH is required (GSM8K JSON Lines; `mxguard probe fetch-data` downloads it)");
  c.data = o.data;
  if (!o.train_data.empty()) c.train_data = o.train_data;
  if (!o.baseline.empty()) c.baseline = o.baseline;
  if (!o.agree_with.empty()) c.agree_with = o.agree_with;
  c.sampling.top_logprobs = o.top_logprobs >= 0 ? o.top_logprobs
                            : (c.agree_with && c.api != probe::Api::Sglang) ? kDefaultAgreementTopK
                                                                             : 0;
  if (!o.model.empty()) c.model = o.model;
  c.out_dir = o.out;
  c.warmup = !o.no_warmup;
  if (!c.api_key_env.empty()) {
    const char* key = std::getenv(c.api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      throw InputError(fmt::format("--api-key-env {}: the variable is not set or empty", c.api_key_env));
    }
    c.http.bearer_token = key;
  }
  probe::ProbeHooks hooks;
  if (!o.quiet) hooks.log = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  const probe::ProbeRun run = [&] {
    const ScopedInterruptHandler interrupt;
    hooks.interrupted = &interrupt.flag();
    return probe::run_probe(c, hooks);
  }();
  const auto& s = run.summary;
  fmt::print("{}", report::render_sglang_lines(s));
  // Accuracy and threshold at one precision: rounding both the same way keeps "accuracy >= threshold" true
  // on the screen whenever it is true in the numbers.
  fmt::print("Verdict: {} ({}); {} answered, {} errors, accuracy {:.3f} [{:.3f}, {:.3f}]{}\n",
             report::probe_verdict_name(s.verdict), s.stop_reason, s.answered, s.errors, s.accuracy, s.wilson_lo,
             s.wilson_hi, s.min_accuracy ? fmt::format(", threshold {:.3f}", *s.min_accuracy) : std::string());
  for (const auto& r : s.reasons) fmt::print("  {}\n", r);
  if (s.agreement) print_agreement(*s.agreement);
  fmt::print("Reports: {}/probe.json, probe.jsonl, junit.xml, summary.md, report.html\n", c.out_dir.string());
  std::fflush(stdout);
  return o.bisect ? bisect_exit_code(s.exit_code, run.server_not_ready) : s.exit_code;
}

void add_run_options(CLI::App* cmd, ProbeCliOptions& o) {
  auto& c = o.config;
  c.http.base_url = "http://127.0.0.1:30000";
  cmd->add_option("--base-url", c.http.base_url, "Server address")->capture_default_str()->group("Server");
  cmd->add_option("--api", o.api,
                  "sglang: POST /generate (SGLang's own benchmark); completions: /v1/completions;\n"
                  "chat: /v1/chat/completions (the few-shot prompt as one user message)")
      ->check(CLI::IsMember({"sglang", "completions", "chat"}))->capture_default_str()->group("Server");
  cmd->add_option("--model", o.model, "Model name to send (default: from /get_model_info or /v1/models)")->group("Server");
  cmd->add_option("--api-key-env", c.api_key_env,
                  "Name of the environment variable holding the API key (sent as a bearer token;\n"
                  "never printed or written)")->group("Server");
  cmd->add_option("--parallel", c.http.max_in_flight, "Requests in flight at once")->capture_default_str()->group("Server");
  cmd->add_option("--timeout", c.http.timeout_s, "Seconds one attempt may take")
      ->capture_default_str()
      ->check(mxg::cli::seconds())
      ->group("Server");
  cmd->add_option("--retries", c.retry.retries,
                  "Extra attempts after connection errors, timeouts, 429/502/503/504 and aborted\n"
                  "generations (exponential backoff with jitter; Retry-After honoured)")
      ->capture_default_str()->group("Server");
  cmd->add_option("--retry-delay", c.retry.base_delay_s, "First backoff step in seconds")->capture_default_str()->group("Server");
  cmd->add_option("--wait-ready", c.wait_ready_s,
                  "Poll /health_generate, /health or /v1/models up to this many seconds before starting")
      ->capture_default_str()->check(mxg::cli::seconds(true))->group("Server");
  cmd->add_flag("--no-warmup", o.no_warmup, "Skip the warm-up request (the shot prefix, no new tokens)")->group("Server");

  cmd->add_option("--data", o.data, "GSM8K JSON Lines to score (test.jsonl; see `mxguard probe fetch-data`)")
      ->group("Questions");
  cmd->add_option("--num-questions", c.num_questions,
                  "Score the first N questions (0: all); default 200, with --stop gate 400")->group("Questions");
  cmd->add_option("--num-shots", c.num_shots, "Few-shot examples in every prompt")->capture_default_str()->group("Questions");
  cmd->add_option("--shots-from", o.shots_from,
                  "test: the first shots of --data (SGLang); train: the first shots of --train-data (vLLM)")
      ->check(CLI::IsMember({"test", "train"}))->capture_default_str()->group("Questions");
  cmd->add_option("--train-data", o.train_data, "train.jsonl, with --shots-from train")->group("Questions");
  cmd->add_option("--seed", c.seed, "Seed of the question permutation (submission and sequential-test order)")
      ->capture_default_str()->group("Questions");
  cmd->add_option("--extract", o.extract,
                  "sglang: last integer (SGLang parity); strict-match / flexible-extract: lm-eval's gsm8k filters")
      ->check(CLI::IsMember({"sglang", "strict-match", "flexible-extract"}))->capture_default_str()->group("Questions");
  cmd->add_option("--max-new-tokens", c.sampling.max_new_tokens, "Generation length limit")->capture_default_str()->group("Questions");

  cmd->add_option("--stop", o.stop,
                  "gate (default): collapse stage (fails a 0.21 server in ~8 questions), then a fixed\n"
                  "test on all --num-questions (default 400) with exact P(fail | --p-good) <= --gate-alpha;\n"
                  "sprt: Wald's test, verdict as soon as a boundary is crossed (a collapse detector, not a\n"
                  "0.79 gate); fixed: ask every question, fail below --min-accuracy (required)")
      ->check(CLI::IsMember({"gate", "fixed", "sprt"}))->capture_default_str()->group("Decision");
  cmd->add_option("--p-good", c.sprt.p_good, "gate, sprt: accuracy of a healthy server on these questions")
      ->capture_default_str()->group("Decision");
  cmd->add_option("--p-bad", c.sprt.p_bad, "gate (collapse stage), sprt: accuracy of a collapsed server")
      ->capture_default_str()->group("Decision");
  cmd->add_option("--gate-alpha", c.gate.alpha,
                  "gate: false-failure budget per run at --p-good (with --baseline: half to the accuracy\n"
                  "test, half to the paired test)")->capture_default_str()->group("Decision");
  cmd->add_option("--collapse-alpha", c.gate.collapse_alpha,
                  "gate: the collapse stage's share of --gate-alpha (its boundary is ln(1/a))")
      ->capture_default_str()->group("Decision");
  cmd->add_option("--alpha", c.sprt.alpha, "sprt: P(broken verdict | healthy)")->capture_default_str()->group("Decision");
  cmd->add_option("--beta", c.sprt.beta, "sprt: P(healthy verdict | broken)")->capture_default_str()->group("Decision");
  cmd->add_option_function<double>(
         "--min-accuracy", [&c](const double& a) { c.min_accuracy = a; },
         "fixed: fail below this accuracy, in [0, 1]; sprt: the fixed rule when questions run out")
      ->group("Decision");
  cmd->add_option("--baseline", o.baseline,
                  "probe.jsonl of a reference run that answered every planned question: paired exact\n"
                  "McNemar on exactly the same questions (failed requests are asked again, never scored)")
      ->group("Decision");
  cmd->add_option("--agree-with", o.agree_with,
                  "probe.jsonl of a reference run: every greedy answer must match it (first divergent byte and\n"
                  "token reported); with logprobs, a differing token within the other side's top-k still agrees")
      ->group("Decision");
  cmd->add_option("--min-agreement", c.min_agreement, "--agree-with: required share of agreeing answers")
      ->capture_default_str()
      ->group("Decision");
  cmd->add_option("--top-logprobs", o.top_logprobs,
                  "Record each token's logprob and top-K alternatives (OpenAI APIs; default 5 with --agree-with, "
                  "else 0)")
      ->group("Decision");
  cmd->add_option_function<double>(
         "--paired-alpha", [&c](const double& a) { c.paired_alpha = a; },
         "Two-sided level of the paired test (default: --gate-alpha with the gate, else 0.05)")
      ->group("Decision");
  cmd->add_option("--max-error-rate", c.max_error_rate,
                  "Stop with exit 3 once failed requests exceed this fraction of the questions")
      ->capture_default_str()->group("Decision");

  cmd->add_option("--out", o.out, "Output folder: probe.jsonl, probe.json, junit.xml, summary.md")
      ->capture_default_str()->group("Output");
  cmd->add_flag("--resume", c.resume, "Keep the answered questions of OUT/probe.jsonl and ask only the rest")->group("Output");
  cmd->add_flag("--bisect", o.bisect,
                "Exit codes for `git bisect run`: 0 good, 1 bad, 125 skip (the server never became\n"
                "ready), 129 abort (infrastructure failure, bad input, interrupted)")->group("Output");
  cmd->add_option("--progress-interval", c.progress_interval_s, "Seconds between progress lines")->capture_default_str()->group("Output");
  cmd->add_flag("--quiet", o.quiet, "No progress lines on stderr")->group("Output");
}

std::filesystem::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "mxguard";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "mxguard";
  return ".mxguard-cache";
}

void add_fetch_data(CLI::App* probe_cmd, Action& action) {
  auto* cmd = probe_cmd->add_subcommand(
      "fetch-data",
      "Download a GSM8K split (openai/grade-school-math), verify its sha256 and cache it; prints the\n"
      "cached file's path. A cached file with the right hash is used without network access.");
  struct Options {
    std::string split = "test", url, sha256, cache_dir;
    double timeout = 120;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--split", o->split, "test (1319 questions) or train (7473)")
      ->check(CLI::IsMember({"test", "train"}))->capture_default_str();
  cmd->add_option("--url", o->url, "Download from here instead (http(s):// or file://)");
  cmd->add_option("--sha256", o->sha256, "Expected sha256 (default: the published split's)");
  cmd->add_option("--cache-dir", o->cache_dir, "Cache folder (default: $XDG_CACHE_HOME/mxguard or ~/.cache/mxguard)");
  cmd->add_option("--timeout", o->timeout, "Seconds the download may take")->capture_default_str()->check(mxg::cli::seconds());
  cmd->callback([&action, o] {
    action = [o] {
      probe::FetchOptions f;
      const bool train = o->split == "train";
      f.url = o->url.empty() ? std::string(train ? probe::kGsm8kTrainUrl : probe::kGsm8kTestUrl) : o->url;
      // A custom URL has no published hash; the default one keeps it unless the user gives another.
      f.sha256 = !o->sha256.empty() ? o->sha256
                 : o->url.empty()   ? std::string(train ? probe::kGsm8kTrainSha256 : probe::kGsm8kTestSha256)
                                    : std::string();
      f.cache_dir = o->cache_dir.empty() ? default_cache_dir() : std::filesystem::path(o->cache_dir);
      f.timeout_s = o->timeout;
      const auto path = probe::fetch_dataset(f, [](std::string_view line) { fmt::print(stderr, "{}\n", line); });
      fmt::print("{}\n", path.string());
      return exit_code::kPass;
    };
  });
}

// The gate's table: exact P(fail) and E[questions] per true accuracy with a simulated check, then the
// paired test's exact P(fail) for unchanged and 5-point-worse candidates.
int print_gate_tables(const probe::GateConfig& g, bool paired, const std::vector<double>& p_true, std::int64_t runs,
                      std::uint64_t seed) {
  probe::GateConfig accuracy_gate = g;
  if (paired) {
    accuracy_gate.alpha /= 2;
    accuracy_gate.collapse_alpha = std::min(accuracy_gate.collapse_alpha, accuracy_gate.alpha);
  }
  const probe::GatePlan plan = probe::plan_gate(accuracy_gate);
  const auto n = accuracy_gate.questions;
  fmt::print("gate: collapse stage {} vs {} (fails at LLR >= ln(1/{}) = {:.3f}), then {} questions, pass with >= {} right "
             "(accuracy {:.4f}); exact P(fail | {}) = {:.6f} <= {}\n",
             accuracy_gate.p_good, accuracy_gate.p_collapse, accuracy_gate.collapse_alpha, plan.upper, n,
             plan.min_correct, static_cast<double>(plan.min_correct) / static_cast<double>(n), accuracy_gate.p_good,
             plan.false_failure, accuracy_gate.alpha);
  fmt::print("{:>7} {:>12} {:>14} {:>18} {:>14} {:>12}\n", "p_true", "P(fail)", "E[questions]", "P(collapse stage)",
             "simulated P", "simulated E");
  for (const double p : p_true) {
    const auto oc = probe::exact_gate_oc(p, plan);
    const auto sim = probe::simulate_gate(p, plan, runs, seed);
    fmt::print("{:>7.3f} {:>12.6f} {:>14.2f} {:>18.6f} {:>14.6f} {:>12.2f}\n", p, oc.p_fail, oc.expected_questions,
               oc.p_collapse_stop, sim.p_fail, sim.mean_questions);
  }
  if (!paired) return exit_code::kPass;
  fmt::print("paired test on the same {} questions, exact two-sided McNemar at {} (fails only when more are lost):\n", n,
             g.alpha);
  fmt::print("{:>8} {:>8} {:>10} {:>12}\n", "P(lost)", "P(gained)", "drop", "P(fail)");
  for (const auto& [lost, gained] : std::vector<std::pair<double, double>>{
           {0.01, 0.01}, {0.02, 0.02}, {0.05, 0.05}, {0.05, 0.0}, {0.06, 0.01}, {0.07, 0.02}, {0.10, 0.05}}) {
    fmt::print("{:>8.2f} {:>8.2f} {:>10.2f} {:>12.6f}\n", lost, gained, lost - gained,
               probe::exact_paired_fail_probability(n, lost, gained, g.alpha));
  }
  return exit_code::kPass;
}

void add_simulate(CLI::App* probe_cmd, Action& action) {
  auto* cmd = probe_cmd->add_subcommand(
      "simulate",
      "The operating characteristics of a decision rule for servers of a given true accuracy: how\n"
      "often it fails them and how many questions it needs, exact (dynamic programming over the rule's\n"
      "states) beside Monte Carlo. --stop gate: the default pre-merge gate (add --paired for the\n"
      "budget split with a baseline and the paired test's power); --stop sprt: Wald's test. Examples:\n"
      "  mxguard probe simulate --stop gate --paired\n"
      "  mxguard probe simulate --p-true 0.88 --p-true 0.21\n"
      "and a 0.79 SPRT with an indifference zone, truncated at 200 questions:\n"
      "  mxguard probe simulate --p-good 0.85 --p-bad 0.73 --max-questions 200 --min-accuracy 0.79 --p-true 0.88");
  struct Options {
    probe::SprtConfig sprt;
    probe::GateConfig gate;
    std::string stop = "sprt";
    bool paired = false;
    std::vector<double> p_true;
    std::int64_t runs = 20000;
    std::uint64_t seed = 1;
    std::optional<double> min_accuracy;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--stop", o->stop, "The rule: sprt or gate")->check(CLI::IsMember({"sprt", "gate"}))->capture_default_str();
  cmd->add_option("--p-true", o->p_true,
                  "True accuracy of the simulated server (repeatable; default sprt 0.88 0.79 0.57 0.21 0.04,\n"
                  "gate 0.88 0.79 0.75 0.5 0.21 0.04)");
  cmd->add_option("--p-good", o->sprt.p_good, "Accuracy of a healthy server")->capture_default_str();
  cmd->add_option("--p-bad", o->sprt.p_bad, "Accuracy of a collapsed server")->capture_default_str();
  cmd->add_option("--alpha", o->sprt.alpha, "sprt: P(broken verdict | healthy)")->capture_default_str();
  cmd->add_option("--beta", o->sprt.beta, "sprt: P(healthy verdict | broken)")->capture_default_str();
  cmd->add_option("--max-questions", o->sprt.max_questions, "sprt: truncation (0: none); the fixed rule's question count")
      ->capture_default_str();
  cmd->add_option_function<double>(
      "--min-accuracy", [o](const double& a) { o->min_accuracy = a; }, "sprt: fallback threshold at truncation (default: midpoint)");
  cmd->add_option("--gate-alpha", o->gate.alpha, "gate: false-failure budget at --p-good")->capture_default_str();
  cmd->add_option("--collapse-alpha", o->gate.collapse_alpha, "gate: the collapse stage's share")->capture_default_str();
  cmd->add_option("--num-questions", o->gate.questions, "gate: the fixed question set")->capture_default_str();
  cmd->add_flag("--paired", o->paired, "gate: as run with --baseline (budget split) and the paired test's power");
  cmd->add_option("--runs", o->runs, "Monte Carlo runs per p-true")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Monte Carlo seed")->capture_default_str();
  cmd->callback([&action, o] {
    action = [o] {
      if (o->runs < 1) throw InputError(fmt::format("--runs {}: must be >= 1", o->runs));
      for (const double p : o->p_true) {
        if (!(p >= 0 && p <= 1)) throw InputError(fmt::format("--p-true {}: must be in [0, 1]", p));
      }
      if (o->stop == "gate") {
        probe::GateConfig g = o->gate;
        g.p_good = o->sprt.p_good;
        g.p_collapse = o->sprt.p_bad;
        const auto ps = o->p_true.empty() ? std::vector<double>{0.88, 0.79, 0.75, 0.5, 0.21, 0.04} : o->p_true;
        return print_gate_tables(g, o->paired, ps, o->runs, o->seed);
      }
      probe::SprtConfig c = o->sprt;
      c.fallback_threshold = o->min_accuracy.value_or((c.p_good + c.p_bad) / 2);
      probe::validate(c);
      const probe::Sprt shape(c);
      fmt::print("SPRT p_good {} vs p_bad {}, alpha {}, beta {}: a right answer moves the LLR {:+.3f}, a wrong one "
                 "{:+.3f}; boundaries {:.3f} / {:+.3f}{}\n",
                 c.p_good, c.p_bad, c.alpha, c.beta, shape.step_correct(), shape.step_wrong(), shape.lower(),
                 shape.upper(),
                 c.max_questions ? fmt::format("; truncated at {} with the fixed rule accuracy >= {}", c.max_questions,
                                               c.fallback_threshold)
                                 : std::string());
      fmt::print("{:>7} {:>14} {:>12} {:>5} {:>5} {:>5} {:>10} {:>10} {:>12}\n", "p_true", "E[questions]", "simulated",
                 "p50", "p90", "p99", "P(broken)", "truncated", "fixed rule");
      const auto ps = o->p_true.empty() ? std::vector<double>{0.88, 0.79, 0.57, 0.21, 0.04} : o->p_true;
      for (const double p : ps) {
        const auto exact = probe::exact_questions_to_verdict(p, c);
        const auto sim = probe::simulate_questions_to_verdict(p, c, o->runs, o->seed);
        fmt::print("{:>7.3f} {:>14.2f} {:>12.2f} {:>5} {:>5} {:>5} {:>10.4f} {:>10.4f} {:>12}\n", p,
                   exact.expected_questions, sim.mean_questions, sim.p50, sim.p90, sim.p99, exact.p_broken,
                   exact.p_truncated, c.max_questions ? fmt::format("{}", c.max_questions) : std::string("-"));
      }
      return exit_code::kPass;
    };
  });
}

}  // namespace

void add_probe_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "probe",
      "End-to-end GSM8K probe of a live server, the way the MXFP4 incident was first seen (GSM8K\n"
      "0.88 -> 0.21): SGLang's few-shot prompt, sampling parameters, warm-up and scoring, byte for byte.\n"
      "Failed requests (connection errors, timeouts, 5xx, aborted generations) are retried and never\n"
      "count as wrong answers; past --max-error-rate the run stops as an infrastructure failure.\n"
      "Without options the gate decides (--stop gate; its error rates: `mxguard probe simulate --stop gate`).\n"

      "With --agree-with, each greedy answer is compared with a reference run's (the signal that needs\n"
      "no accuracy: a random-weight model works as well as a real one).\n"
      "Exit: 0 pass, 1 accuracy regression or answers that disagree with --agree-with, 2 bad input,\n"
      "3 infrastructure failure, 130 interrupted\n"
      "(with --bisect: 0 / 1 / 125 / 129).");
  cmd->require_subcommand(0, 1);
  auto o = std::make_shared<ProbeCliOptions>();
  add_run_options(cmd, *o);
  add_fetch_data(cmd, action);
  add_simulate(cmd, action);
  cmd->footer(
      "Examples:\n"
      "  # the default gate: collapse stage, then 400 questions, P(fail | healthy 0.88) <= 0.001\n"
      "  mxguard probe --data test.jsonl --base-url http://127.0.0.1:30000\n"
      "  # the upstream CI's check: 200 questions, fail below 0.79 (--min-accuracy alone means --stop fixed)\n"
      "  mxguard probe --data test.jsonl --base-url http://127.0.0.1:30000 --min-accuracy 0.79\n"
      "  # collapse detector: a verdict in ~5 questions\n"
      "  mxguard probe --data test.jsonl --stop sprt --p-good 0.88 --p-bad 0.21\n"
      "  # pre-merge: the gate plus a paired test on the same 400 questions as the main branch's run\n"
      "  mxguard probe --data test.jsonl --baseline main-probe/probe.jsonl --out pr-probe\n"
      "  # same greedy answers as main's run (record that one with --top-logprobs 5 too)\n"
      "  mxguard probe --data test.jsonl --api completions --agree-with main-probe/probe.jsonl --out pr-probe\n"
      "  # rehearse without a GPU: `mxguard standin --port 30000` in another shell");
  // The run is the default action; a subcommand (fetch-data, simulate) sets its own.
  cmd->callback([&action, cmd, o] {
    if (!cmd->get_subcommands().empty()) return;
    o->num_questions_given = cmd->count("--num-questions") > 0;
    o->stop_given = cmd->count("--stop") > 0;
    action = [o] {
      try {
        return run_probe_command(*o);
      } catch (const InputError& e) {
        if (!o->bisect) throw;
        fmt::print(stderr, "mxguard: error: {}\n", e.what());
        return exit_code::kBisectAbort;  // a bad invocation must not mark the commit bad
      }
    };
  });
}

}  // namespace mxg::cli
