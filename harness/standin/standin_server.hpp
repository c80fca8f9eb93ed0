// `mxguard standin`: a local stand-in for an SGLang / OpenAI-compatible server answering GSM8K
// few-shot prompts with a chosen accuracy and injected faults. For the probe's tests and for users
// rehearsing their CI wiring without a GPU.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/probe/gsm8k.hpp"

namespace mxg::standin {

struct StandinOptions {
  std::string host = "127.0.0.1";
  int port = 30000;  // 0 = any free port (see StandinServer::port())
  std::string model_path = "mxguard/standin-gsm8k";
  double accuracy = 0.88;      // probability a known question is answered correctly
  std::uint64_t seed = 0;      // decides which questions are answered correctly and which faults fire
  std::int64_t collapse_after = -1;  // after this many generation answers accuracy becomes collapse_accuracy
  double collapse_accuracy = 0.0;
  // Faults, each drawn per generation request (deterministic in seed, question and the question's
  // request count, so a retry of the same question draws again):
  double error_rate = 0;  int error_status = 500;  // HTTP error with an SGLang-shaped error body
  double latency_ms = 0;     // added to every generation
  double hang_rate = 0;      // never answers (until the server stops)
  double malformed_rate = 0; // 200 with a body that is not the API's JSON
  double drop_rate = 0;      // closes the connection without a complete response
  double abort_rate = 0;     // 200 with finish_reason "abort"
  double truncate_rate = 0;  // 200 with finish_reason "length" and a cut answer
  double ready_after_s = 0;  // /health, /health_generate and generation return 503 until then
  std::optional<std::string> api_key;  // when set, requests without "Authorization: Bearer <key>" get 401
  int threads = 512;         // connection threads (a keep-alive connection holds one)
};

// Validates ranges (rates in [0,1], error_status in {429, 500, 503}, port in [0, 65535], ...);
// bad values -> mxg::InputError naming the option (--accuracy, --error-rate, ...).
void validate(const StandinOptions& o);

// Whether question text `question` is answered correctly while not collapsed: a pure function of
// (seed, question) compared with `accuracy` — tests use it as the ground truth.
bool answers_correctly(std::uint64_t seed, double accuracy, const std::string& question);

// What happened, for tests and the /standin/stats endpoint.
struct StandinStats {
  std::int64_t generation_requests = 0;  // every POST to a generation endpoint (warm-up included)
  std::int64_t warmups = 0;              // generations with max tokens 0
  std::int64_t bad_requests = 0;         // generation requests answered 400 (bad JSON, no prompt, ...)
  // Answers composed for known questions: correct, a wrong number, or a non-answer (rambling or
  // degenerate text). A truncate fault cuts an answer after it is counted; the other faults answer
  // nothing. unknown_question: prompts asking no question the server knows.
  std::int64_t answered_correct = 0, answered_wrong = 0, answered_nonanswer = 0, unknown_question = 0;
  std::map<std::string, std::int64_t> faults;  // "error", "hang", "malformed", "drop", "abort", "truncate", "not_ready", "unauthorized"
  std::map<std::string, std::int64_t> per_question_requests;  // question text -> generation requests
};

// Endpoints: GET /health, /health_generate (no API key needed, as in SGLang), /get_model_info,
// /v1/models, /standin/stats (StandinStats as JSON, no key); POST /generate, /v1/completions,
// /v1/chat/completions. Tokens are whitespace-separated words (no tokenizer). Warm-ups (max tokens 0)
// get "" and never fault; when several faults fire for one request the first of drop, hang, error,
// malformed, abort, truncate wins (fault_plan.hpp).
class StandinServer {
 public:
  // `data` are the questions it knows (their labels are the correct answers). Validates options.
  StandinServer(StandinOptions options, std::vector<probe::Gsm8kItem> data);
  ~StandinServer();  // stops
  StandinServer(const StandinServer&) = delete;
  StandinServer& operator=(const StandinServer&) = delete;

  // Binds and serves on a background thread; returns once accepting. Cannot bind -> mxg::InfraError
  // naming host:port and the reason.
  void start();
  int port() const;  // the bound port
  void stop();       // releases hung requests, joins the thread; idempotent
  void wait();       // blocks until stop() (used by the CLI, which stops on SIGINT/SIGTERM)
  StandinStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxg::standin
