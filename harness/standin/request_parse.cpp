// Parsing the SGLang and OpenAI generation request bodies into a GenerationRequest.
#include "harness/standin/request_parse.hpp"

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mxg::standin {
namespace {

using nlohmann::json;

std::optional<std::int64_t> token_limit(const json& obj, std::string_view field) {
  const auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw BadRequest(fmt::format("{} must be an integer (got {})", field, json_read::show(*it)));
  const auto value = it->get<std::int64_t>();
  if (value < 0) throw BadRequest(fmt::format("{} must be >= 0 (got {})", field, value));
  return value;
}

std::vector<std::string> stop_strings(const json& obj, std::string_view field) {
  const auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return {};
  if (it->is_string()) return {it->get<std::string>()};
  std::vector<std::string> stops;
  if (it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_string()) throw BadRequest(fmt::format("{} must be a string or a list of strings", field));
      stops.push_back(s.get<std::string>());
    }
    return stops;
  }
  throw BadRequest(fmt::format("{} must be a string or a list of strings (got {})", field, json_read::show(*it)));
}

// Chat content is a string or a list of parts of which the "text" ones count.
std::string message_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    std::string text;
    for (const auto& part : content) {
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string()) {
        text += part["text"].get<std::string>();
      }
    }
    return text;
  }
  throw BadRequest("messages[].content must be a string or a list of content parts");
}

GenerationRequest parse_sglang(const json& body) {
  GenerationRequest r;
  const auto text = body.find("text");
  if (text == body.end() || text->is_null()) {
    throw BadRequest("text is required (the stand-in takes one prompt string, not input_ids)");
  }
  if (!text->is_string()) throw BadRequest("text must be one string (batched requests are not supported by the stand-in)");
  r.prompt = text->get<std::string>();
  if (const auto sp = body.find("sampling_params"); sp != body.end() && !sp->is_null()) {
    if (!sp->is_object()) throw BadRequest("sampling_params must be an object");
    r.max_tokens = token_limit(*sp, "max_new_tokens");
    r.stops = stop_strings(*sp, "stop");
  }
  return r;
}

GenerationRequest parse_completions(const json& body) {
  GenerationRequest r;
  const auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null()) throw BadRequest("prompt is required");
  if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    r.prompt = (*prompt)[0].get<std::string>();
  } else {
    throw BadRequest("prompt must be a string (or a list of one string)");
  }
  r.max_tokens = token_limit(body, "max_tokens");
  r.stops = stop_strings(body, "stop");
  return r;
}

GenerationRequest parse_chat(const json& body) {
  GenerationRequest r;
  const auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty()) {
    throw BadRequest("messages is required: a non-empty list of {role, content}");
  }
  const json* last_user = nullptr;
  for (const auto& m : *messages) {
    if (!m.is_object()) throw BadRequest("messages[] entries must be objects with role and content");
    if (m.value("role", "") == "user") last_user = &m;
  }
  if (last_user == nullptr || !last_user->contains("content")) throw BadRequest("messages has no user message with content");
  r.prompt = message_text((*last_user)["content"]);
  r.max_tokens = token_limit(body, "max_completion_tokens");
  if (!r.max_tokens) r.max_tokens = token_limit(body, "max_tokens");
  r.stops = stop_strings(body, "stop");
  return r;
}

}  // namespace

GenerationRequest parse_generation_request(Api api, std::string_view body) {
  json parsed;
  try {
    // Bounded: one POST of 100,000 nested arrays must be a 400, not a dead stand-in.
    parsed = json_read::parse(body, "request body", json_read::Limits{.max_depth = 32});
  } catch (const InputError& e) {
    throw BadRequest(e.what());
  }
  if (!parsed.is_object()) throw BadRequest("request body must be a JSON object");
  try {
    switch (api) {
      case Api::Sglang: return parse_sglang(parsed);
      case Api::Completions: return parse_completions(parsed);
      case Api::Chat: return parse_chat(parsed);
    }
  } catch (const json::exception& e) {
    throw BadRequest(fmt::format("request body has an ill-typed field: {}", json_read::clip(e.what(), 200)));
  }
  throw BadRequest("unknown API");
}

std::int64_t default_max_tokens(Api api) {
  switch (api) {
    case Api::Sglang: return 128;
    case Api::Completions: return 16;
    case Api::Chat: return -1;
  }
  return -1;
}

}  // namespace mxg::standin
