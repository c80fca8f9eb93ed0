// JSON bodies of the stand-in's responses (nlohmann_json), in SGLang's and OpenAI's field layout.
#include "harness/standin/response_shapes.hpp"

#include <nlohmann/json.hpp>

namespace mxg::standin {
namespace {

using nlohmann::json;

json sglang_finish(const FinishReason& f) {
  switch (f.type) {
    case FinishReason::Type::Stop: return {{"type", "stop"}, {"matched", f.matched}};
    case FinishReason::Type::Length: return {{"type", "length"}, {"length", f.length}};
    case FinishReason::Type::Abort: return {{"type", "abort"}, {"message", f.message}};
  }
  return nullptr;
}

std::string_view openai_finish(const FinishReason& f) {
  switch (f.type) {
    case FinishReason::Type::Stop: return "stop";
    case FinishReason::Type::Length: return "length";
    case FinishReason::Type::Abort: return "abort";
  }
  return "stop";
}

json usage(const Completion& c) {
  return {{"prompt_tokens", c.prompt_tokens},
          {"completion_tokens", c.completion_tokens},
          {"total_tokens", c.prompt_tokens + c.completion_tokens}};
}

json generation_json(Api api, const Completion& c, const ResponseMeta& m) {
  const json matched = c.finish.type == FinishReason::Type::Stop ? json(c.finish.matched) : json(nullptr);
  switch (api) {
    case Api::Sglang:
      return {{"text", c.text},
              {"meta_info",
               {{"id", m.id},
                {"finish_reason", sglang_finish(c.finish)},
                {"prompt_tokens", c.prompt_tokens},
                {"completion_tokens", c.completion_tokens},
                {"cached_tokens", 0},
                {"e2e_latency", m.e2e_latency}}}};
    case Api::Completions:
      return {{"id", "cmpl-" + m.id},
              {"object", "text_completion"},
              {"created", m.created},
              {"model", m.model},
              {"choices", json::array({{{"index", 0},
                                        {"text", c.text},
                                        {"logprobs", nullptr},
                                        {"finish_reason", openai_finish(c.finish)},
                                        {"matched_stop", matched}}})},
              {"usage", usage(c)}};
    case Api::Chat:
      return {{"id", "chatcmpl-" + m.id},
              {"object", "chat.completion"},
              {"created", m.created},
              {"model", m.model},
              {"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", c.text}, {"reasoning_content", nullptr}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", openai_finish(c.finish)},
                                        {"matched_stop", matched}}})},
              {"usage", usage(c)}};
  }
  return nullptr;
}

std::string_view error_type(int status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 404: return "NotFoundError";
    case 429: return "RateLimitError";
    case 503: return "ServiceUnavailableError";
    default: return "InternalServerError";
  }
}

}  // namespace

std::string generation_body(Api api, const Completion& c, const ResponseMeta& m) {
  return generation_json(api, c, m).dump();
}

MalformedBody malformed_body(Api api, const Completion& c, const ResponseMeta& m, std::uint64_t variant) {
  switch (variant % 3) {
    case 0: {
      const std::string valid = generation_body(api, c, m);
      return {valid.substr(0, valid.size() / 2), "application/json"};
    }
    case 1: {
      json body = generation_json(api, c, m);
      if (api == Api::Sglang) {
        body.erase("text");
      } else if (api == Api::Completions) {
        body["choices"][0].erase("text");
      } else {
        body["choices"][0]["message"].erase("content");
      }
      return {body.dump(), "application/json"};
    }
    default:
      return {"<html><head><title>502 Bad Gateway</title></head><body>upstream connect error</body></html>", "text/html"};
  }
}

std::string error_body(int status, std::string_view message) {
  return json{{"object", "error"}, {"message", message}, {"type", error_type(status)}, {"param", nullptr}, {"code", status}}
      .dump();
}

std::string model_info_body(std::string_view model_path) {
  return json{{"model_path", model_path},
              {"tokenizer_path", model_path},
              {"is_generation", true},
              {"preferred_sampling_params", nullptr},
              {"weight_version", "default"}}
      .dump();
}

std::string models_body(std::string_view model_path, std::int64_t created) {
  return json{{"object", "list"},
              {"data", json::array({{{"id", model_path},
                                     {"object", "model"},
                                     {"created", created},
                                     {"owned_by", "mxguard-standin"},
                                     {"root", model_path}}})}}
      .dump();
}

}  // namespace mxg::standin
