// The three generation request shapes the stand-in accepts (SGLang /generate, OpenAI /v1/completions
// and /v1/chat/completions), reduced to what it needs: prompt, token limit, stop strings.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::standin {

enum class Api { Sglang, Completions, Chat };

struct GenerationRequest {
  std::string prompt;                     // SGLang "text", completions "prompt", chat: last user message
  std::optional<std::int64_t> max_tokens; // absent -> default_max_tokens(api)
  std::vector<std::string> stops;
};

// A request the real server would answer with 400; what() is the message for the error body.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws BadRequest naming the field (bad JSON, missing/ill-typed prompt, negative token limit).
GenerationRequest parse_generation_request(Api api, std::string_view body);

// The limit when the request sets none, as the real servers do: SGLang 128 new tokens, OpenAI
// completions 16 (the OpenAI default), chat none (-1). A client that forgets to set its limit then sees
// cut answers here as it would against the real server.
std::int64_t default_max_tokens(Api api);

}  // namespace mxg::standin
