// The JSON bodies the stand-in sends, shaped like SGLang's: /generate, the OpenAI completions and chat
// responses, errors, model info and the model list; and the malformed bodies of the malformed fault.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "harness/standin/generation.hpp"
#include "harness/standin/request_parse.hpp"

namespace mxg::standin {

struct ResponseMeta {
  std::string id;           // request id (hex); OpenAI shapes prefix it with "cmpl-" / "chatcmpl-"
  std::string model;        // model_path
  double e2e_latency = 0;   // seconds, SGLang meta_info
  std::int64_t created = 0; // unix seconds, OpenAI shapes
};

// SGLang: {"text", "meta_info": {"id", "finish_reason", "prompt_tokens", "completion_tokens",
// "cached_tokens", "e2e_latency"}}; finish_reason {"type": "stop", "matched"} | {"type": "length",
// "length"} | {"type": "abort", "message"}. OpenAI: choices[0].text or .message {"role", "content"},
// finish_reason "stop" | "length" | "abort", matched_stop, usage.
std::string generation_body(Api api, const Completion& c, const ResponseMeta& m);

// A 200 body the client cannot use, for the malformed fault; `variant` picks one of: the valid body cut
// in half (invalid JSON), the valid body without its text field, or an HTML page (as a proxy in front
// of a dead server sends).
struct MalformedBody {
  std::string body;
  std::string content_type;
};
MalformedBody malformed_body(Api api, const Completion& c, const ResponseMeta& m, std::uint64_t variant);

// {"object": "error", "message", "type", "param": null, "code": status}, type named after the status
// (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError, 429 RateLimitError,
// 500 InternalServerError, 503 ServiceUnavailableError).
std::string error_body(int status, std::string_view message);

// GET /get_model_info and GET /v1/models.
std::string model_info_body(std::string_view model_path);
std::string models_body(std::string_view model_path, std::int64_t created);

}  // namespace mxg::standin
