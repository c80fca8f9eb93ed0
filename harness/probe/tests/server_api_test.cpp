// Serving APIs: request bodies (every sampling parameter, parsed back), response and error parsing
// (well-formed and malformed), the generation classifier, discovery and readiness against a local server.
#include "harness/probe/server_api.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "harness/probe/tests/test_http_server.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

using json = nlohmann::json;
using testing::TestHttpServer;

SamplingParams distinctive_params() {
  SamplingParams p;
  p.max_new_tokens = 77;
  p.temperature = 0.25;
  p.top_p = 0.9;
  p.top_k = 40;
  p.min_p = 0.05;
  p.frequency_penalty = 0.125;
  p.presence_penalty = 0.375;
  p.stop = {"Question", "\n\n"};
  p.skip_special_tokens = false;
  p.ignore_eos = true;
  return p;
}

const std::string kPrompt = "Question: 2 \"plus\" 2?\nAnswer:";

HttpPoolOptions options_for(const std::string& base_url) {
  HttpPoolOptions o;
  o.base_url = base_url;
  o.timeout_s = 5;
  o.connect_timeout_s = 2;
  return o;
}

std::string infra_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InfraError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InfraError";
  return "";
}

TEST(ServerApi, NamesAndPathsRoundTrip) {
  for (Api a : {Api::Sglang, Api::Completions, Api::Chat}) EXPECT_EQ(parse_api(api_name(a)), a);
  EXPECT_EQ(api_name(Api::Completions), "completions");
  EXPECT_FALSE(parse_api("openai").has_value());
  EXPECT_EQ(generation_path(Api::Sglang), "/generate");
  EXPECT_EQ(generation_path(Api::Completions), "/v1/completions");
  EXPECT_EQ(generation_path(Api::Chat), "/v1/chat/completions");
}

TEST(GenerationBody, SglangCarriesEverySamplingParameter) {
  const json j = json::parse(generation_body(Api::Sglang, "ignored", kPrompt, distinctive_params()));
  EXPECT_EQ(j.size(), 2u);
  EXPECT_EQ(j.at("text"), kPrompt);
  const json& s = j.at("sampling_params");
  EXPECT_EQ(s.size(), 10u);
  EXPECT_EQ(s.at("max_new_tokens"), 77);
  EXPECT_EQ(s.at("temperature"), 0.25);
  EXPECT_EQ(s.at("top_p"), 0.9);
  EXPECT_EQ(s.at("top_k"), 40);
  EXPECT_EQ(s.at("min_p"), 0.05);
  EXPECT_EQ(s.at("frequency_penalty"), 0.125);
  EXPECT_EQ(s.at("presence_penalty"), 0.375);
  EXPECT_EQ(s.at("stop"), json::array({"Question", "\n\n"}));
  EXPECT_EQ(s.at("skip_special_tokens"), false);
  EXPECT_EQ(s.at("ignore_eos"), true);
}

TEST(GenerationBody, SglangDefaultsAreTheGsm8kSettings) {
  const json s = json::parse(generation_body(Api::Sglang, "", "p", SamplingParams{})).at("sampling_params");
  EXPECT_EQ(s.at("max_new_tokens"), 512);
  EXPECT_EQ(s.at("temperature"), 0.0);
  EXPECT_EQ(s.at("top_p"), 1.0);
  EXPECT_EQ(s.at("top_k"), -1);
  EXPECT_EQ(s.at("stop"), json::array({"Question", "Assistant:", "<|separator|>"}));
  EXPECT_EQ(s.at("skip_special_tokens"), true);
  EXPECT_EQ(s.at("ignore_eos"), false);
}

void expect_openai_sampling(const json& j) {
  EXPECT_EQ(j.at("model"), "gpt-oss-120b");
  EXPECT_EQ(j.at("max_tokens"), 77);
  EXPECT_EQ(j.at("temperature"), 0.25);
  EXPECT_EQ(j.at("top_p"), 0.9);
  EXPECT_EQ(j.at("stop"), json::array({"Question", "\n\n"}));
  EXPECT_EQ(j.at("top_k"), 40);
  EXPECT_EQ(j.at("min_p"), 0.05);
  EXPECT_EQ(j.at("frequency_penalty"), 0.125);
  EXPECT_EQ(j.at("presence_penalty"), 0.375);
  EXPECT_EQ(j.at("skip_special_tokens"), false);
  EXPECT_EQ(j.at("ignore_eos"), true);
  EXPECT_EQ(j.at("stream"), false);
  EXPECT_FALSE(j.contains("sampling_params"));
}

TEST(GenerationBody, CompletionsSendsThePromptAndTheSamplingFields) {
  const json j = json::parse(generation_body(Api::Completions, "gpt-oss-120b", kPrompt, distinctive_params()));
  expect_openai_sampling(j);
  EXPECT_EQ(j.at("prompt"), kPrompt);
  EXPECT_FALSE(j.contains("messages"));
}

TEST(GenerationBody, ChatSendsOneUserMessage) {
  const json j = json::parse(generation_body(Api::Chat, "gpt-oss-120b", kPrompt, distinctive_params()));
  expect_openai_sampling(j);
  EXPECT_EQ(j.at("messages"), json::parse(R"([{"role":"user","content":"Question: 2 \"plus\" 2?\nAnswer:"}])"));
  EXPECT_FALSE(j.contains("prompt"));
}

TEST(GenerationBody, LogprobsAreAskedInEachApisSpelling) {
  SamplingParams p;
  EXPECT_FALSE(json::parse(generation_body(Api::Completions, "m", kPrompt, p)).contains("logprobs"));
  EXPECT_FALSE(json::parse(generation_body(Api::Chat, "m", kPrompt, p)).contains("top_logprobs"));
  p.top_logprobs = 7;
  const json completions = json::parse(generation_body(Api::Completions, "m", kPrompt, p));
  EXPECT_EQ(completions.at("logprobs"), 7);  // OpenAI completions: the number of alternatives
  EXPECT_FALSE(completions.contains("top_logprobs"));
  const json chat = json::parse(generation_body(Api::Chat, "m", kPrompt, p));
  EXPECT_EQ(chat.at("logprobs"), true);  // chat: a switch plus the count
  EXPECT_EQ(chat.at("top_logprobs"), 7);
  const json sglang = json::parse(generation_body(Api::Sglang, "", kPrompt, p));
  EXPECT_FALSE(sglang.contains("logprobs"));
}

TEST(GenerationBody, InvalidUtf8InThePromptDoesNotThrow) {
  const std::string bad = std::string("caf") + static_cast<char>(0xE9) + " au lait";
  const json j = json::parse(generation_body(Api::Sglang, "", bad, SamplingParams{}));
  EXPECT_EQ(j.at("text").get<std::string>().substr(0, 3), "caf");
}

TEST(ParseGeneration, SglangFullShape) {
  const ParsedGeneration p = parse_generation(Api::Sglang, R"({"text":" 4.\n#### 4","meta_info":{"id":"x",
      "prompt_tokens":812,"completion_tokens":9,"finish_reason":{"type":"stop","matched":"Question"},
      "e2e_latency":1.5}})");
  ASSERT_TRUE(p.generation) << p.error;
  EXPECT_EQ(p.generation->text, " 4.\n#### 4");
  EXPECT_EQ(p.generation->finish_reason, "stop");
  EXPECT_EQ(p.generation->prompt_tokens, 812);
  EXPECT_EQ(p.generation->completion_tokens, 9);
  EXPECT_EQ(p.generation->server_latency_s, 1.5);
}

TEST(ParseGeneration, SglangFinishReasonAsStringNullOrAbsent) {
  EXPECT_EQ(parse_generation(Api::Sglang, R"({"text":"a","meta_info":{"finish_reason":"length"}})").generation->finish_reason,
            "length");
  const ParsedGeneration null_reason = parse_generation(Api::Sglang, R"({"text":"a","meta_info":{"finish_reason":null}})");
  ASSERT_TRUE(null_reason.generation);
  EXPECT_EQ(null_reason.generation->finish_reason, "");
  const ParsedGeneration bare = parse_generation(Api::Sglang, R"({"text":"a"})");
  ASSERT_TRUE(bare.generation);
  EXPECT_EQ(bare.generation->finish_reason, "");
  EXPECT_FALSE(bare.generation->completion_tokens.has_value());
  EXPECT_FALSE(bare.generation->server_latency_s.has_value());
}

TEST(ParseGeneration, DeeplyNestedRepliesAreMalformedNotACrash) {
  // Reproduces C1 through the probe: {"detail":[[[...]]]} 100,000 levels deep overflowed the stack.
  const std::string deep = R"({"detail":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  for (const Api api : {Api::Sglang, Api::Completions, Api::Chat}) {
    const ParsedGeneration p = parse_generation(api, deep);
    EXPECT_FALSE(p.generation);
    EXPECT_NE(p.error.find("nested deeper"), std::string::npos) << p.error;
  }
  EXPECT_LT(server_error_message(deep).size(), 300u);
}

TEST(ParseGeneration, SglangMalformedBodiesGiveErrors) {
  const ParsedGeneration truncated = parse_generation(Api::Sglang, R"({"text": "abc)");
  EXPECT_FALSE(truncated.generation);
  EXPECT_NE(truncated.error.find("malformed JSON"), std::string::npos) << truncated.error;
  EXPECT_FALSE(parse_generation(Api::Sglang, "").generation);
  EXPECT_FALSE(parse_generation(Api::Sglang, "<html>502</html>").generation);
  const ParsedGeneration array = parse_generation(Api::Sglang, R"([{"text":"a"}])");
  EXPECT_FALSE(array.generation);
  EXPECT_NE(array.error.find("array"), std::string::npos) << array.error;
  const ParsedGeneration number_text = parse_generation(Api::Sglang, R"({"text":5})");
  EXPECT_FALSE(number_text.generation);
  EXPECT_NE(number_text.error.find("'text'"), std::string::npos) << number_text.error;
  const ParsedGeneration error_body = parse_generation(Api::Sglang, R"({"error":{"message":"CUDA out of memory"}})");
  EXPECT_FALSE(error_body.generation);
  EXPECT_NE(error_body.error.find("CUDA out of memory"), std::string::npos) << error_body.error;
  // Wrong-typed metadata is dropped, not trusted.
  const ParsedGeneration odd_meta =
      parse_generation(Api::Sglang, R"({"text":"a","meta_info":{"completion_tokens":"9","e2e_latency":"fast"}})");
  ASSERT_TRUE(odd_meta.generation);
  EXPECT_FALSE(odd_meta.generation->completion_tokens.has_value());
  EXPECT_FALSE(odd_meta.generation->server_latency_s.has_value());
}

TEST(ParseGeneration, CompletionsShape) {
  const ParsedGeneration p = parse_generation(Api::Completions, R"({"id":"c","object":"text_completion",
      "choices":[{"index":0,"text":" 18","finish_reason":"stop"}],
      "usage":{"prompt_tokens":700,"completion_tokens":3,"total_tokens":703}})");
  ASSERT_TRUE(p.generation) << p.error;
  EXPECT_EQ(p.generation->text, " 18");
  EXPECT_EQ(p.generation->finish_reason, "stop");
  EXPECT_EQ(p.generation->prompt_tokens, 700);
  EXPECT_EQ(p.generation->completion_tokens, 3);
  EXPECT_FALSE(p.generation->server_latency_s.has_value());
  EXPECT_FALSE(parse_generation(Api::Completions, R"({"choices":[]})").generation);
  EXPECT_FALSE(parse_generation(Api::Completions, R"({"choices":[{"message":{"content":"x"}}]})").generation);
  const ParsedGeneration err = parse_generation(Api::Completions, R"({"object":"error","message":"model not found"})");
  EXPECT_FALSE(err.generation);
  EXPECT_NE(err.error.find("model not found"), std::string::npos) << err.error;
}

TEST(ParseGeneration, ChatContentAndReasoningFallback) {
  const ParsedGeneration p = parse_generation(Api::Chat, R"({"choices":[{"message":{"role":"assistant",
      "content":"The answer is 7."},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":6}})");
  ASSERT_TRUE(p.generation) << p.error;
  EXPECT_EQ(p.generation->text, "The answer is 7.");
  EXPECT_EQ(p.generation->finish_reason, "length");
  EXPECT_EQ(p.generation->completion_tokens, 6);
  const ParsedGeneration null_content = parse_generation(
      Api::Chat, R"({"choices":[{"message":{"content":null,"reasoning_content":"so 12"},"finish_reason":"stop"}]})");
  ASSERT_TRUE(null_content.generation) << null_content.error;
  EXPECT_EQ(null_content.generation->text, "so 12");
  const ParsedGeneration empty_content =
      parse_generation(Api::Chat, R"({"choices":[{"message":{"content":"","reasoning_content":"r 3"}}]})");
  ASSERT_TRUE(empty_content.generation);
  EXPECT_EQ(empty_content.generation->text, "r 3");
  const ParsedGeneration both = parse_generation(Api::Chat, R"({"choices":[{"message":{"content":"c","reasoning_content":"r"}}]})");
  EXPECT_EQ(both.generation->text, "c");
  EXPECT_FALSE(parse_generation(Api::Chat, R"({"choices":[{"text":"x"}]})").generation);
  EXPECT_FALSE(parse_generation(Api::Chat, R"({"choices":[{"message":{"content":3}}]})").generation);
}

TEST(ParseGeneration, ContentLogprobsOfChatAndLlamaCppCompletions) {
  // The chat shape, which llama.cpp's server also uses for /v1/completions.
  const ParsedGeneration p = parse_generation(Api::Completions, R"({"choices":[{"text":" 4 5","finish_reason":"length",
      "logprobs":{"content":[
        {"id":1,"token":" 4","logprob":-0.25,"bytes":[32,52],"top_logprobs":[
          {"id":1,"token":" 4","logprob":-0.25},{"id":2,"token":" 5","logprob":-1.5}]},
        {"id":3,"token":" 5","logprob":-2.0,"top_logprobs":[{"token":" 6","logprob":-0.5},{"token":" 5","logprob":-2.0}]}]}}]})");
  ASSERT_TRUE(p.generation) << p.error;
  const auto& t = p.generation->tokens;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].text, " 4");
  EXPECT_DOUBLE_EQ(t[0].logprob, -0.25);
  ASSERT_EQ(t[0].top.size(), 2u);
  EXPECT_EQ(t[0].top[1].first, " 5");
  EXPECT_DOUBLE_EQ(t[0].top[1].second, -1.5);
  EXPECT_EQ(t[1].top[0].first, " 6");  // the server's order is kept
  const ParsedGeneration chat = parse_generation(Api::Chat, R"({"choices":[{"message":{"content":"x"},
      "logprobs":{"content":[{"token":"x","logprob":-0.5,"top_logprobs":[]}]}}]})");
  ASSERT_TRUE(chat.generation);
  ASSERT_EQ(chat.generation->tokens.size(), 1u);
  EXPECT_TRUE(chat.generation->tokens[0].top.empty());
}

TEST(ParseGeneration, LegacyCompletionsLogprobsAreSortedMostLikelyFirst) {
  const ParsedGeneration p = parse_generation(Api::Completions, R"({"choices":[{"text":"ab",
      "logprobs":{"tokens":["a","b"],"token_logprobs":[-0.5,null],
                  "top_logprobs":[{"z":-3.0,"a":-0.5,"q":-1.0},null]}}]})");
  ASSERT_TRUE(p.generation) << p.error;
  const auto& t = p.generation->tokens;
  ASSERT_EQ(t.size(), 2u);
  ASSERT_EQ(t[0].top.size(), 3u);
  EXPECT_EQ(t[0].top[0].first, "a");
  EXPECT_EQ(t[0].top[1].first, "q");
  EXPECT_EQ(t[0].top[2].first, "z");
  EXPECT_TRUE(t[1].top.empty());
}

TEST(ParseLogprobs, NullAbsentAndMalformedListsLoseOnlyTheLogprobs) {
  std::string error;
  EXPECT_TRUE(parse_logprobs(json(nullptr), error).empty());
  EXPECT_TRUE(error.empty());
  EXPECT_TRUE(parse_logprobs(json::parse(R"({"content":null})"), error).empty());
  EXPECT_TRUE(error.empty());
  EXPECT_TRUE(parse_logprobs(json::parse(R"({"content":[{"token":"a"}]})"), error).empty());
  EXPECT_NE(error.find("content[0]"), std::string::npos) << error;
  error.clear();
  EXPECT_TRUE(parse_logprobs(json::parse(R"({"tokens":["a"],"token_logprobs":[]})"), error).empty());
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_TRUE(parse_logprobs(json::parse("[1]"), error).empty());
  EXPECT_NE(error.find("array"), std::string::npos) << error;
  // The answer survives a malformed logprobs list.
  const ParsedGeneration p =
      parse_generation(Api::Completions, R"({"choices":[{"text":"7","logprobs":{"content":[{"token":3}]}}]})");
  ASSERT_TRUE(p.generation);
  EXPECT_EQ(p.generation->text, "7");
  EXPECT_TRUE(p.generation->tokens.empty());
}

TEST(ServerErrorMessage, KnownShapesAndRawBodies) {
  EXPECT_EQ(server_error_message(R"({"error":{"message":"bad prompt","type":"BadRequestError"}})"), "bad prompt");
  EXPECT_EQ(server_error_message(R"({"error":"rate limited"})"), "rate limited");
  EXPECT_EQ(server_error_message(R"({"object":"error","message":"too long","code":400})"), "too long");
  EXPECT_EQ(server_error_message(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(server_error_message("upstream connect error"), "upstream connect error");
  const std::string long_body(300, 'x');
  const std::string m = server_error_message(long_body);
  EXPECT_EQ(m.substr(0, 200), long_body.substr(0, 200));
  EXPECT_LT(m.size(), 210u);
}

HttpAttempt answered(long status, std::string body) {
  HttpAttempt a;
  a.status = status;
  a.body = std::move(body);
  return a;
}

TEST(ClassifyGeneration, AbortInsideA200IsRetryable) {
  EXPECT_EQ(classify_generation(Api::Sglang, answered(200, R"({"text":"","meta_info":{"finish_reason":{"type":"abort"}}})")),
            AttemptClass::Retryable);
  EXPECT_EQ(classify_generation(Api::Chat, answered(200, R"({"choices":[{"message":{"content":""},"finish_reason":"abort"}]})")),
            AttemptClass::Retryable);
  // The word in the answer text is not an abort.
  EXPECT_EQ(classify_generation(Api::Sglang, answered(200, R"({"text":"abort","meta_info":{"finish_reason":{"type":"stop"}}})")),
            AttemptClass::Final);
  EXPECT_EQ(classify_generation(Api::Sglang, answered(200, "not json abort")), AttemptClass::Final);
  EXPECT_EQ(classify_generation(Api::Sglang, answered(503, "")), AttemptClass::Retryable);
  EXPECT_EQ(classify_generation(Api::Sglang, answered(400, R"({"error":{"message":"x"}})")), AttemptClass::Fatal);
  HttpAttempt refused;
  refused.curl_code = 7;
  EXPECT_EQ(classify_generation(Api::Completions, refused), AttemptClass::Retryable);
}

TEST(ClassifyGeneration, PoolRetriesAnAbortedGeneration) {
  TestHttpServer server;
  std::atomic<int> calls{0};
  server.routes().Post("/generate", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(++calls == 1 ? R"({"text":"","meta_info":{"finish_reason":{"type":"abort","message":"oom"}}})"
                                 : R"({"text":" 42","meta_info":{"finish_reason":{"type":"stop"}}})",
                    "application/json");
  });
  server.start();
  RetryPolicy r;
  r.retries = 2;
  r.base_delay_s = 0.01;
  HttpPool pool(options_for(server.base_url()), r,
                [](const HttpRequest&, const HttpAttempt& a) { return classify_generation(Api::Sglang, a); });
  pool.submit(HttpRequest{3, "POST", generation_path(Api::Sglang), generation_body(Api::Sglang, "", "q", SamplingParams{})});
  std::vector<HttpOutcome> all;
  for (int i = 0; i < 50 && pool.pending() > 0; ++i)
    for (HttpOutcome& o : pool.poll(100)) all.push_back(std::move(o));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].cls, AttemptClass::Final);
  EXPECT_EQ(all[0].attempts, 2);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(parse_generation(Api::Sglang, all[0].last.body).generation->text, " 42");
}

// A server that answers the discovery endpoints with fixed bodies.
void serve_json(TestHttpServer& s, const std::string& path, int status, std::string body) {
  s.routes().Get(path, [status, body](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_content(body, "application/json");
  });
}

TEST(DiscoverServer, SglangReadsModelPathAndRecordsModels) {
  TestHttpServer server;
  serve_json(server, "/get_model_info", 200, R"({"model_path":"openai/gpt-oss-120b","is_generation":true})");
  serve_json(server, "/v1/models", 200, R"({"object":"list","data":[{"id":"served-name"}]})");
  server.start();
  const ServerIdentity id = discover_server(options_for(server.base_url()), Api::Sglang, std::nullopt);
  EXPECT_EQ(id.model, "openai/gpt-oss-120b");
  ASSERT_TRUE(id.model_info);
  EXPECT_EQ(id.model_info->at("is_generation"), true);
  ASSERT_TRUE(id.models);
  EXPECT_EQ(id.models->at("data")[0].at("id"), "served-name");
  EXPECT_EQ(discover_server(options_for(server.base_url()), Api::Sglang, "override").model, "override");
}

TEST(DiscoverServer, OpenAiTakesTheFirstModelIdAndToleratesNoModelInfo) {
  TestHttpServer server;
  serve_json(server, "/v1/models", 200, R"({"object":"list","data":[{"id":"gpt-oss-20b"},{"id":"other"}]})");
  server.start();  // /get_model_info: httplib's 404
  for (Api a : {Api::Completions, Api::Chat}) {
    const ServerIdentity id = discover_server(options_for(server.base_url()), a, std::nullopt);
    EXPECT_EQ(id.model, "gpt-oss-20b");
    EXPECT_FALSE(id.model_info.has_value());
    EXPECT_TRUE(id.models.has_value());
  }
}

TEST(DiscoverServer, FailuresNameTheEndpointAndTheAnswer) {
  const std::string refused = "http://127.0.0.1:" + std::to_string(testing::closed_port());
  std::string m = infra_error_of([&] { discover_server(options_for(refused), Api::Sglang, std::nullopt); });
  EXPECT_NE(m.find(refused + "/get_model_info"), std::string::npos) << m;
  EXPECT_NE(m.find("unreachable"), std::string::npos) << m;

  TestHttpServer server;
  serve_json(server, "/get_model_info", 200, "<html>proxy login</html>");
  serve_json(server, "/v1/models", 200, R"({"data":[]})");
  server.start();
  const HttpPoolOptions o = options_for(server.base_url());
  m = infra_error_of([&] { discover_server(o, Api::Sglang, std::nullopt); });
  EXPECT_NE(m.find("not JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("proxy login"), std::string::npos) << m;
  m = infra_error_of([&] { discover_server(o, Api::Completions, std::nullopt); });
  EXPECT_NE(m.find("/v1/models"), std::string::npos) << m;
  EXPECT_NE(m.find("model id"), std::string::npos) << m;
  EXPECT_EQ(discover_server(o, Api::Completions, "m").model, "m");  // an override needs no listed model
}

TEST(DiscoverServer, MissingModelPathUnauthorisedAndServerErrors) {
  TestHttpServer server;
  std::atomic<int> mode{0};
  server.routes().Get("/get_model_info", [&](const httplib::Request&, httplib::Response& res) {
    if (mode == 0) res.set_content(R"({"tokenizer_path":"t"})", "application/json");
    if (mode == 1) {
      res.status = 401;
      res.set_content(R"({"error":{"message":"Unauthorized"}})", "application/json");
    }
    if (mode == 2) {
      res.status = 500;
      res.set_content(R"({"object":"error","message":"scheduler died"})", "application/json");
    }
  });
  server.start();
  const HttpPoolOptions o = options_for(server.base_url());
  std::string m = infra_error_of([&] { discover_server(o, Api::Sglang, std::nullopt); });
  EXPECT_NE(m.find("model_path"), std::string::npos) << m;
  mode = 1;
  m = infra_error_of([&] { discover_server(o, Api::Sglang, std::nullopt, "SGLANG_KEY"); });
  EXPECT_NE(m.find("401"), std::string::npos) << m;
  EXPECT_NE(m.find("API key"), std::string::npos) << m;
  EXPECT_NE(m.find("SGLANG_KEY"), std::string::npos) << m;
  mode = 2;
  m = infra_error_of([&] { discover_server(o, Api::Sglang, std::nullopt); });
  EXPECT_NE(m.find("HTTP 500"), std::string::npos) << m;
  EXPECT_NE(m.find("scheduler died"), std::string::npos) << m;
}

TEST(WaitReady, SucceedsOnceTheServerTurnsReady) {
  TestHttpServer server;
  std::atomic<int> polls{0};
  server.routes().Get("/health_generate", [&](const httplib::Request&, httplib::Response& res) {
    if (++polls < 4) res.status = 503;
  });
  server.start();
  std::vector<std::string> lines;
  wait_ready(options_for(server.base_url()), 5, 0.02, [&](std::string_view l) { lines.emplace_back(l); });
  EXPECT_EQ(polls.load(), 4);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("503"), std::string::npos) << lines[0];
}

TEST(WaitReady, FallsBackPastA404AndSkipsThatEndpointFromThenOn) {
  TestHttpServer server;
  std::atomic<int> generate_polls{0}, health_polls{0};
  server.routes().Get("/health_generate", [&](const httplib::Request&, httplib::Response& res) {
    ++generate_polls;
    res.status = 404;
  });
  server.routes().Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    if (++health_polls < 3) res.status = 503;
  });
  server.start();
  wait_ready(options_for(server.base_url()), 5, 0.01, nullptr);
  EXPECT_EQ(generate_polls.load(), 1);
  EXPECT_EQ(health_polls.load(), 3);
}

// llama.cpp's llama-server while it loads: 503 {"error": {"message": "Loading model"}} on every path,
// unknown ones included; once loaded, /health answers 200 and /health_generate (not served) 404.
TEST(WaitReady, AServerThatAnswers503EverywhereWhileLoadingIsReadyOnceHealthAnswers) {
  TestHttpServer server;
  std::atomic<int> generate_polls{0}, health_polls{0};
  std::atomic<bool> loading{true};
  server.routes().set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/health_generate") ++generate_polls;
    if (req.path == "/health") ++health_polls;
    if (!loading) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 503;
    res.set_content(R"({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})", "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.routes().Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server.start();
  std::thread loader([&] {
    while (generate_polls < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    loading = false;
  });
  std::vector<std::string> lines;
  wait_ready(options_for(server.base_url()), 10, 0.01, [&](std::string_view l) { lines.emplace_back(l); });
  loader.join();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines[0].find("/health_generate: HTTP 503: Loading model"), std::string::npos) << lines[0];
  // Loading: only /health_generate was asked (a 503 says the server is there but not ready). Loaded:
  // /health_generate answered 404 once and /health 200.
  EXPECT_GE(generate_polls.load(), 4);
  EXPECT_EQ(health_polls.load(), 1);
}

TEST(WaitReady, TimesOutWithTheLastAnswer) {
  TestHttpServer server;
  server.routes().Get("/health_generate", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("loading weights", "text/plain");
  });
  server.start();
  const auto start = std::chrono::steady_clock::now();
  const std::string m = infra_error_of([&] { wait_ready(options_for(server.base_url()), 0.3, 0.05, nullptr); });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 0.29);
  EXPECT_LT(waited, 2.0);
  EXPECT_NE(m.find("503"), std::string::npos) << m;
  EXPECT_NE(m.find("loading weights"), std::string::npos) << m;
}

TEST(WaitReady, SingleCheckAgainstAClosedPort) {
  const std::string refused = "http://127.0.0.1:" + std::to_string(testing::closed_port());
  int lines = 0;
  const std::string m = infra_error_of([&] { wait_ready(options_for(refused), 0, 0.05, [&](std::string_view) { ++lines; }); });
  EXPECT_NE(m.find(refused), std::string::npos) << m;
  EXPECT_NE(m.find("/health_generate"), std::string::npos) << m;
  EXPECT_EQ(lines, 0);
}

}  // namespace
}  // namespace mxg::probe
