// The three serving APIs the probe speaks: SGLang native (/generate), OpenAI completions and chat.
// Request bodies (every sampling parameter sent explicitly), response parsing, error bodies, model
// discovery and readiness polling.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/probe/http_pool.hpp"
#include "reports/probe_result.hpp"

namespace mxg::probe {

enum class Api { Sglang, Completions, Chat };
std::string_view api_name(Api a);                   // "sglang", "completions", "chat"
std::optional<Api> parse_api(std::string_view name);  // inverse

// SGLang's few-shot GSM8K sampling parameters (PROBE.md). The OpenAI APIs get the subset they take
// (max_tokens, temperature, top_p, stop, plus the SGLang extensions top_k/min_p/penalties).
struct SamplingParams {
  int max_new_tokens = 512;
  double temperature = 0;
  double top_p = 1.0;
  int top_k = -1;
  double min_p = 0;
  double frequency_penalty = 0;
  double presence_penalty = 0;
  std::vector<std::string> stop{"Question", "Assistant:", "<|separator|>"};
  bool skip_special_tokens = true;
  bool ignore_eos = false;
  // > 0: ask the OpenAI APIs for each generated token's logprob and its top_logprobs alternatives
  // (completions: "logprobs": K; chat: "logprobs": true, "top_logprobs": K). 0: not requested.
  int top_logprobs = 0;
};

std::string generation_path(Api a);  // "/generate", "/v1/completions", "/v1/chat/completions"
// JSON body; `model` is ignored for Sglang. Chat sends the prompt as one user message.
std::string generation_body(Api a, const std::string& model, const std::string& prompt, const SamplingParams& p);

// A parsed 200 response.
struct Generation {
  std::string text;           // SGLang "text", choices[0].text, or choices[0].message.content
                              // (falling back to reasoning_content when content is null/empty)
  std::string finish_reason;  // "stop", "length", "abort", or what the server said; "" if absent
  std::optional<std::int64_t> prompt_tokens, completion_tokens;
  std::optional<double> server_latency_s;  // SGLang meta_info.e2e_latency
  std::vector<report::ProbeToken> tokens;  // choices[0].logprobs, when the server returned them
};
struct ParsedGeneration {
  std::optional<Generation> generation;  // set when the body has the API's shape
  std::string error;                     // otherwise: what is wrong ("malformed JSON at byte 12", "no 'text'")
};
ParsedGeneration parse_generation(Api a, std::string_view body);
// choices[0].logprobs in either shape servers use: {"content": [{"token", "logprob", "top_logprobs":
// [{"token", "logprob"}]}]} (chat; llama.cpp for completions too) or OpenAI's legacy completions
// {"tokens": [...], "token_logprobs": [...], "top_logprobs": [{token: logprob}]}. Absent or null ->
// empty; a malformed entry -> the error text (the answer itself is still used).
std::vector<report::ProbeToken> parse_logprobs(const nlohmann::json& logprobs, std::string& error);

// The message of an error body: {"error": {"message": ...}}, {"error": "..."}, {"object": "error",
// "message": ...} or {"detail": ...}; otherwise the first 200 bytes of the body.
std::string server_error_message(std::string_view body);

// Classifier for generation requests: default_classify for non-2xx; for 2xx, a body that parses with
// finish_reason "abort" is Retryable (a server failure, not an answer); anything else Final (a malformed
// body is Final here and recorded as an error by the caller).
AttemptClass classify_generation(Api a, const HttpAttempt& attempt);

// What the server says it is. Sglang: GET /get_model_info (must have "model_path"); OpenAI APIs:
// GET /v1/models (first "data[].id") — each also tries the other endpoint and records it when present.
struct ServerIdentity {
  std::string model;                   // the name to send as "model" (override wins)
  std::optional<nlohmann::json> model_info;  // /get_model_info body, if served
  std::optional<nlohmann::json> models;      // /v1/models body, if served
};
// Unreachable / non-JSON / missing model -> mxg::InfraError naming the endpoint and what came back
// (401/403 is reported as a bad or missing API key, naming `api_key_env`, the --api-key-env variable,
// if given).
ServerIdentity discover_server(const HttpPoolOptions& options, Api a, const std::optional<std::string>& model_override,
                               const std::string& api_key_env = {});

// Polls GET /health_generate, then /health, then /v1/models (the first that does not answer 404 decides;
// one that answered 404 is skipped from then on) every poll_interval_s until one answers 200 or
// `seconds` have passed -> mxg::InfraError
// naming the last status or transport error. `progress` gets one line per failed poll (rate-limited by
// the caller's sink). seconds <= 0: a single check.
void wait_ready(const HttpPoolOptions& options, double seconds, double poll_interval_s,
                const std::function<void(std::string_view)>& progress);

}  // namespace mxg::probe
