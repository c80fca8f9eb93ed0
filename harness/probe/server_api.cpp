// Request bodies, response parsing, error bodies, discovery and readiness for the SGLang native and
// OpenAI-compatible generation APIs.
#include "harness/probe/server_api.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/seconds.hpp"

namespace mxg::probe {
namespace {

using json = nlohmann::json;

// Discovery and health checks answer at once on a live server; a slow one is reported, not awaited.
constexpr double kDiscoveryTimeoutS = 30;
constexpr std::size_t kSnippetBytes = 200;

std::string snippet(std::string_view body) {
  std::string s(body.substr(0, kSnippetBytes));
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';  // one-line messages
  if (body.size() > kSnippetBytes) s += "...";
  return s;
}

// Serialises with invalid UTF-8 replaced (a prompt is user data; dump() would otherwise throw).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void add_logprobs_request(json& j, Api a, int top_logprobs) {
  if (top_logprobs <= 0) return;
  if (a == Api::Chat) {
    j["logprobs"] = true;
    j["top_logprobs"] = top_logprobs;
  } else {
    j["logprobs"] = top_logprobs;  // the completions API: an integer, the number of alternatives
  }
}

void add_openai_sampling(json& j, const SamplingParams& p) {
  j["max_tokens"] = p.max_new_tokens;
  j["temperature"] = p.temperature;
  j["top_p"] = p.top_p;
  j["stop"] = p.stop;
  j["stream"] = false;
  // Not in OpenAI's schema; SGLang and vLLM accept them, and sending them keeps a server default from
  // silently changing the decoding.
  j["top_k"] = p.top_k;
  j["min_p"] = p.min_p;
  j["frequency_penalty"] = p.frequency_penalty;
  j["presence_penalty"] = p.presence_penalty;
  j["skip_special_tokens"] = p.skip_special_tokens;
  j["ignore_eos"] = p.ignore_eos;
}

std::optional<json> parse_json(std::string_view body, std::string& error) {
  // Bounded: a reply of 100,000 nested arrays is a malformed reply, not a stack overflow. Servers may
  // repeat a key; the reply is read as the last one wins, like their own clients do.
  try {
    return json_read::parse(body, "reply", json_read::Limits{.max_bytes = body.size(), .allow_duplicate_keys = true});
  } catch (const InputError& e) {
    error = fmt::format("malformed JSON ({})", json_read::clip(e.what(), 160));
    return std::nullopt;
  }
}

std::optional<std::int64_t> integer_field(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  return it->get<std::int64_t>();
}

// finish_reason as the servers write it: SGLang {"type": ...}, OpenAI a string, either may be null.
std::string finish_reason_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    const auto t = v.find("type");
    if (t != v.end() && t->is_string()) return t->get<std::string>();
  }
  return "";
}

// The shape is missing: say which field, and what the server said if the body is an error object.
std::string missing(const json& body, std::string_view what) {
  if (body.is_object() && (body.contains("error") || body.contains("detail") || body.value("object", "") == "error"))
    return fmt::format("no {} (server error: {})", what, server_error_message(dump(body)));
  return fmt::format("no {}", what);
}

ParsedGeneration parse_sglang(const json& j) {
  ParsedGeneration r;
  const auto text = j.find("text");
  if (text == j.end() || !text->is_string()) {
    r.error = missing(j, "'text' string");
    return r;
  }
  Generation g;
  g.text = text->get<std::string>();
  const auto meta = j.find("meta_info");
  if (meta != j.end() && meta->is_object()) {
    g.prompt_tokens = integer_field(*meta, "prompt_tokens");
    g.completion_tokens = integer_field(*meta, "completion_tokens");
    if (const auto fr = meta->find("finish_reason"); fr != meta->end()) g.finish_reason = finish_reason_of(*fr);
    if (const auto lat = meta->find("e2e_latency"); lat != meta->end() && lat->is_number())
      g.server_latency_s = lat->get<double>();
  }
  r.generation = std::move(g);
  return r;
}

ParsedGeneration parse_openai(const json& j, Api a) {
  ParsedGeneration r;
  const auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) {
    r.error = missing(j, "'choices[0]' object");
    return r;
  }
  const json& c0 = (*choices)[0];
  Generation g;
  if (a == Api::Completions) {
    const auto text = c0.find("text");
    if (text == c0.end() || !(text->is_string() || text->is_null())) {
      r.error = "no 'choices[0].text' string";
      return r;
    }
    if (text->is_string()) g.text = text->get<std::string>();
  } else {
    const auto msg = c0.find("message");
    if (msg == c0.end() || !msg->is_object()) {
      r.error = "no 'choices[0].message' object";
      return r;
    }
    const auto content = msg->find("content");
    if (content == msg->end() || !(content->is_string() || content->is_null())) {
      r.error = "no 'choices[0].message.content' string";
      return r;
    }
    if (content->is_string()) g.text = content->get<std::string>();
    // With a reasoning parser the whole answer may sit in the analysis channel; vLLM later renamed
    // the field to "reasoning".
    for (const char* key : {"reasoning_content", "reasoning"}) {
      if (!g.text.empty()) break;
      const auto alt = msg->find(key);
      if (alt != msg->end() && alt->is_string()) g.text = alt->get<std::string>();
    }
  }
  if (const auto fr = c0.find("finish_reason"); fr != c0.end()) g.finish_reason = finish_reason_of(*fr);
  if (const auto lp = c0.find("logprobs"); lp != c0.end()) {
    std::string error;
    g.tokens = parse_logprobs(*lp, error);  // a malformed list loses the logprobs, not the answer
  }
  if (const auto usage = j.find("usage"); usage != j.end() && usage->is_object()) {
    g.prompt_tokens = integer_field(*usage, "prompt_tokens");
    g.completion_tokens = integer_field(*usage, "completion_tokens");
  }
  r.generation = std::move(g);
  return r;
}

// {"token": "x", "logprob": -0.1} -> ("x", -0.1); anything else -> nullopt.
std::optional<std::pair<std::string, double>> token_entry(const json& e) {
  if (!e.is_object()) return std::nullopt;
  const auto t = e.find("token");
  const auto lp = e.find("logprob");
  if (t == e.end() || !t->is_string() || lp == e.end() || !lp->is_number()) return std::nullopt;
  return std::pair{t->get<std::string>(), lp->get<double>()};
}

// {"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}, ...]}
std::vector<report::ProbeToken> parse_content_logprobs(const json& content, std::string& error) {
  std::vector<report::ProbeToken> out;
  for (const json& e : content) {
    const auto chosen = token_entry(e);
    if (!chosen) {
      error = fmt::format("logprobs.content[{}] has no 'token' string and 'logprob' number", out.size());
      return {};
    }
    report::ProbeToken t{chosen->first, chosen->second, {}};
    if (const auto top = e.find("top_logprobs"); top != e.end() && top->is_array()) {
      for (const json& alt : *top)
        if (const auto a = token_entry(alt)) t.top.push_back(*a);
    }
    out.push_back(std::move(t));
  }
  return out;
}

// OpenAI's legacy completions shape: parallel arrays, alternatives as {token: logprob} objects.
std::vector<report::ProbeToken> parse_legacy_logprobs(const json& lp, std::string& error) {
  const auto tokens = lp.find("tokens");
  const auto values = lp.find("token_logprobs");
  if (tokens == lp.end() || !tokens->is_array() || values == lp.end() || !values->is_array() ||
      values->size() != tokens->size()) {
    error = "logprobs has neither 'content' nor matching 'tokens' and 'token_logprobs' arrays";
    return {};
  }
  const auto top = lp.find("top_logprobs");
  std::vector<report::ProbeToken> out;
  for (std::size_t i = 0; i < tokens->size(); ++i) {
    if (!(*tokens)[i].is_string()) {
      error = fmt::format("logprobs.tokens[{}] is not a string", i);
      return {};
    }
    const json& v = (*values)[i];
    report::ProbeToken t{(*tokens)[i].get<std::string>(), v.is_number() ? v.get<double>() : 0.0, {}};
    if (top != lp.end() && top->is_array() && i < top->size() && (*top)[i].is_object()) {
      for (const auto& [text, alt] : (*top)[i].items())
        if (alt.is_number()) t.top.emplace_back(text, alt.get<double>());
      std::ranges::stable_sort(t.top, [](const auto& x, const auto& y) { return x.second > y.second; });
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string describe_attempt(const HttpAttempt& a) {
  if (a.curl_code != 0) return a.transport_error;
  return fmt::format("HTTP {}: {}", a.status, server_error_message(a.body));
}

// One discovery GET; anything but a 200 with a JSON body -> InfraError naming the URL and the answer.
json get_json_or_throw(const HttpPoolOptions& o, const std::string& path, const std::string& api_key_env) {
  const std::string url = o.base_url + (o.base_url.ends_with('/') ? path.substr(1) : path);
  const HttpAttempt a = http_once(o, "GET", path, "", std::min(kDiscoveryTimeoutS, o.timeout_s));
  if (a.curl_code != 0) throw InfraError(fmt::format("GET {}: server unreachable: {}", url, a.transport_error));
  if (a.status == 401 || a.status == 403) {
    const std::string hint = api_key_env.empty()
                                 ? (o.bearer_token ? "the API key was rejected" : "no API key was given (--api-key-env)")
                                 : fmt::format("the key in ${} was rejected or is missing", api_key_env);
    throw InfraError(fmt::format("GET {}: HTTP {}: bad or missing API key: {} ({})", url, a.status, hint,
                                 server_error_message(a.body)));
  }
  if (a.status != 200) throw InfraError(fmt::format("GET {}: HTTP {}: {}", url, a.status, server_error_message(a.body)));
  std::string error;
  std::optional<json> j = parse_json(a.body, error);
  if (!j) throw InfraError(fmt::format("GET {}: HTTP 200 but not JSON ({}): {}", url, error, snippet(a.body)));
  return std::move(*j);
}

// The other API's endpoint, recorded when it answers with JSON and ignored otherwise.
std::optional<json> get_json_if_served(const HttpPoolOptions& o, const std::string& path) {
  const HttpAttempt a = http_once(o, "GET", path, "", std::min(kDiscoveryTimeoutS, o.timeout_s));
  if (a.curl_code != 0 || a.status != 200) return std::nullopt;
  std::string error;
  return parse_json(a.body, error);
}

std::string first_model_id(const json& models) {
  if (!models.is_object()) return "";
  const auto data = models.find("data");
  if (data == models.end() || !data->is_array()) return "";
  for (const json& m : *data) {
    if (!m.is_object()) continue;
    const auto id = m.find("id");
    if (id != m.end() && id->is_string() && !id->get<std::string>().empty()) return id->get<std::string>();
  }
  return "";
}

}  // namespace

std::string_view api_name(Api a) {
  switch (a) {
    case Api::Sglang: return "sglang";
    case Api::Completions: return "completions";
    case Api::Chat: return "chat";
  }
  return "?";
}

std::optional<Api> parse_api(std::string_view name) {
  for (Api a : {Api::Sglang, Api::Completions, Api::Chat})
    if (api_name(a) == name) return a;
  return std::nullopt;
}

std::string generation_path(Api a) {
  switch (a) {
    case Api::Sglang: return "/generate";
    case Api::Completions: return "/v1/completions";
    case Api::Chat: return "/v1/chat/completions";
  }
  return "";
}

std::string generation_body(Api a, const std::string& model, const std::string& prompt, const SamplingParams& p) {
  json j;
  switch (a) {
    case Api::Sglang:
      j["text"] = prompt;
      j["sampling_params"] = {
          {"max_new_tokens", p.max_new_tokens}, {"temperature", p.temperature},
          {"top_p", p.top_p},                   {"top_k", p.top_k},
          {"min_p", p.min_p},                   {"frequency_penalty", p.frequency_penalty},
          {"presence_penalty", p.presence_penalty}, {"stop", p.stop},
          {"skip_special_tokens", p.skip_special_tokens}, {"ignore_eos", p.ignore_eos}};
      break;
    case Api::Completions:
      j["model"] = model;
      j["prompt"] = prompt;
      add_openai_sampling(j, p);
      add_logprobs_request(j, a, p.top_logprobs);
      break;
    case Api::Chat:
      j["model"] = model;
      j["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
      add_openai_sampling(j, p);
      add_logprobs_request(j, a, p.top_logprobs);
      break;
  }
  return dump(j);
}

ParsedGeneration parse_generation(Api a, std::string_view body) {
  ParsedGeneration r;
  std::optional<json> j = parse_json(body, r.error);
  if (!j) return r;
  if (!j->is_object()) {
    r.error = fmt::format("response is a JSON {}, not an object", j->type_name());
    return r;
  }
  return a == Api::Sglang ? parse_sglang(*j) : parse_openai(*j, a);
}

std::vector<report::ProbeToken> parse_logprobs(const json& logprobs, std::string& error) {
  if (logprobs.is_null()) return {};
  if (!logprobs.is_object()) {
    error = fmt::format("logprobs is a JSON {}, not an object", logprobs.type_name());
    return {};
  }
  if (const auto content = logprobs.find("content"); content != logprobs.end()) {
    if (content->is_null()) return {};
    if (!content->is_array()) {
      error = "logprobs.content is not an array";
      return {};
    }
    return parse_content_logprobs(*content, error);
  }
  return parse_legacy_logprobs(logprobs, error);
}

std::string server_error_message(std::string_view body) {
  std::string ignored;
  const std::optional<json> j = parse_json(body, ignored);
  if (j && j->is_object()) {
    if (const auto e = j->find("error"); e != j->end()) {
      if (e->is_string()) return e->get<std::string>();
      if (e->is_object()) {
        const auto m = e->find("message");
        if (m != e->end() && m->is_string()) return m->get<std::string>();
      }
    }
    if (const auto m = j->find("message"); m != j->end() && m->is_string() && j->value("object", "") == "error")
      return m->get<std::string>();
    if (const auto d = j->find("detail"); d != j->end()) {
      // FastAPI puts a string here, or a list of validation problems.
      return d->is_string() ? d->get<std::string>() : json_read::show(*d, kSnippetBytes);
    }
  }
  return snippet(body);
}

AttemptClass classify_generation(Api a, const HttpAttempt& attempt) {
  const AttemptClass base = default_classify(attempt);
  if (base != AttemptClass::Final) return base;
  // Only a body naming "abort" can be an aborted generation; skip the parse for every other answer.
  if (attempt.body.find("abort") == std::string::npos) return AttemptClass::Final;
  const ParsedGeneration p = parse_generation(a, attempt.body);
  if (p.generation && p.generation->finish_reason == "abort") return AttemptClass::Retryable;
  return AttemptClass::Final;
}

ServerIdentity discover_server(const HttpPoolOptions& options, Api a, const std::optional<std::string>& model_override,
                               const std::string& api_key_env) {
  ServerIdentity id;
  if (a == Api::Sglang) {
    json info = get_json_or_throw(options, "/get_model_info", api_key_env);
    const auto mp = info.is_object() ? info.find("model_path") : info.end();
    if (!info.is_object() || mp == info.end() || !mp->is_string() || mp->get<std::string>().empty())
      throw InfraError(fmt::format("GET {}/get_model_info: no 'model_path' in the answer: {}", options.base_url,
                                   json_read::show(info, kSnippetBytes)));
    id.model = model_override.value_or(mp->get<std::string>());
    id.model_info = std::move(info);
    id.models = get_json_if_served(options, "/v1/models");
  } else {
    json models = get_json_or_throw(options, "/v1/models", api_key_env);
    const std::string first = first_model_id(models);
    if (first.empty() && !model_override)
      throw InfraError(fmt::format("GET {}/v1/models: no model id in 'data[].id': {}", options.base_url,
                                   json_read::show(models, kSnippetBytes)));
    id.model = model_override.value_or(first);
    id.models = std::move(models);
    id.model_info = get_json_if_served(options, "/get_model_info");
  }
  return id;
}

void wait_ready(const HttpPoolOptions& options, double seconds, double poll_interval_s,
                const std::function<void(std::string_view)>& progress) {
  using Clock = std::chrono::steady_clock;
  static constexpr const char* kEndpoints[] = {"/health_generate", "/health", "/v1/models"};
  const Clock::time_point deadline =
      Clock::now() + seconds_to_duration(seconds);
  // Endpoints that answered 404 are not served and are skipped from then on. Any other answer is not
  // a choice of endpoint: llama.cpp's server answers 503 on every path, unknown ones included, while
  // it loads the model, and 404 on /health_generate once it is ready.
  bool absent[std::size(kEndpoints)] = {};
  for (;;) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    const double check_timeout = std::clamp(left, 1.0, kDiscoveryTimeoutS);
    std::string last = "GET /health_generate, /health and /v1/models all answered 404";
    for (std::size_t i = 0; i < std::size(kEndpoints); ++i) {
      if (absent[i]) continue;
      const HttpAttempt a = http_once(options, "GET", kEndpoints[i], "", check_timeout);
      if (a.curl_code == 0 && a.status == 404) {
        absent[i] = true;
        continue;
      }
      if (a.curl_code == 0 && a.status == 200) return;
      // A URL curl cannot use (1 unsupported protocol, 3 malformed) never becomes ready: that is the
      // user's --base-url, not a server still loading (which a bisect would skip the commit for).
      if (a.curl_code == 1 || a.curl_code == 3)
        throw InputError(fmt::format("--base-url {}: {}", options.base_url, describe_attempt(a)));
      last = fmt::format("GET {}: {}", kEndpoints[i], describe_attempt(a));
      break;  // unreachable or not ready: the other endpoints would say the same
    }
    const Clock::time_point now = Clock::now();
    if (options.cancel && options.cancel->load())
      throw InfraError(fmt::format("interrupted while waiting for {} to become ready", options.base_url));
    if (seconds <= 0 || now >= deadline)
      throw InfraError(fmt::format("server {} not ready after {:.1f} s: {}", options.base_url, std::max(0.0, seconds), last));
    if (progress) progress(fmt::format("waiting for {}: {}", options.base_url, last));
    // Nap in short steps so that SIGINT/SIGTERM (options.cancel) ends the wait at once.
    const Clock::time_point wake = now + std::min(deadline - now, seconds_to_duration(std::max(0.001, poll_interval_s)));
    while (Clock::now() < wake && !(options.cancel && options.cancel->load())) {
      std::this_thread::sleep_for(std::min<Clock::duration>(wake - Clock::now(), std::chrono::milliseconds(50)));
    }
  }
}

}  // namespace mxg::probe
