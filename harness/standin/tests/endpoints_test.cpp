// The HTTP endpoints end to end: response shapes, the correct-answer rate and which questions are
// right, warm-ups, token limits, unknown questions, errors, API key, readiness, collapse, determinism.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "harness/probe/extract.hpp"
#include "harness/standin/tests/standin_fixture.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::standin {
namespace {

using nlohmann::json;
using test::Running;
using test::test_options;

bool is_correct(const std::string& text, const probe::Gsm8kItem& item) {
  return probe::extract_prediction(probe::Extractor::Sglang, text) ==
         probe::reference_label(probe::Extractor::Sglang, item.answer);
}

TEST(StandinEndpoints, HealthModelInfoAndModels) {
  auto o = test_options();
  o.model_path = "org/model-x";
  Running r(o, probe::generate_gsm8k(10, 1));
  for (const char* path : {"/health", "/health_generate"}) {
    auto res = r.client->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  auto info = r.client->Get("/get_model_info");
  ASSERT_TRUE(info);
  const auto info_json = json::parse(info->body);
  EXPECT_EQ(info_json["model_path"], "org/model-x");
  EXPECT_EQ(info_json["tokenizer_path"], "org/model-x");
  EXPECT_EQ(info_json["is_generation"], true);
  auto models = r.client->Get("/v1/models");
  ASSERT_TRUE(models);
  const auto models_json = json::parse(models->body);
  EXPECT_EQ(models_json["object"], "list");
  ASSERT_EQ(models_json["data"].size(), 1u);
  EXPECT_EQ(models_json["data"][0]["id"], "org/model-x");
  EXPECT_EQ(models_json["data"][0]["object"], "model");
  EXPECT_EQ(models_json["data"][0]["owned_by"], "mxguard-standin");
  auto missing = r.client->Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["code"], 404);
}

TEST(StandinEndpoints, GenerateShape) {
  auto o = test_options();
  o.accuracy = 1.0;
  Running r(o, probe::generate_gsm8k(10, 2));
  const std::string prompt = r.prompt_for(6);
  const json body = r.generate(prompt);
  ASSERT_FALSE(body.is_null());
  ASSERT_TRUE(body["text"].is_string());
  const std::string text = body["text"];
  EXPECT_TRUE(is_correct(text, r.data[6])) << text;
  const json& meta = body["meta_info"];
  EXPECT_TRUE(meta["id"].is_string());
  EXPECT_EQ(meta["prompt_tokens"], test::stream_word_count(prompt));
  EXPECT_EQ(meta["completion_tokens"], test::stream_word_count(text));
  EXPECT_EQ(meta["finish_reason"], (json{{"type", "stop"}, {"matched", "Question"}}));
  EXPECT_GE(meta["e2e_latency"].get<double>(), 0.0);
}

TEST(StandinEndpoints, CompletionsAndChatShapes) {
  auto o = test_options();
  o.accuracy = 1.0;
  o.model_path = "m";
  Running r(o, probe::generate_gsm8k(10, 3));
  const std::string prompt = r.prompt_for(7);
  auto res = r.post_json("/v1/completions", {{"model", "m"}, {"prompt", prompt}, {"max_tokens", 512}, {"stop", {"Question"}}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const json completion = json::parse(res->body);
  EXPECT_EQ(completion["object"], "text_completion");
  EXPECT_EQ(completion["model"], "m");
  EXPECT_TRUE(completion["id"].is_string());
  ASSERT_EQ(completion["choices"].size(), 1u);
  EXPECT_EQ(completion["choices"][0]["index"], 0);
  EXPECT_EQ(completion["choices"][0]["finish_reason"], "stop");
  const std::string text = completion["choices"][0]["text"];
  EXPECT_TRUE(is_correct(text, r.data[7])) << text;
  const json& usage = completion["usage"];
  EXPECT_EQ(usage["prompt_tokens"], test::stream_word_count(prompt));
  EXPECT_EQ(usage["completion_tokens"], test::stream_word_count(text));
  EXPECT_EQ(usage["total_tokens"], usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());

  auto chat_res = r.post_json("/v1/chat/completions",
                              {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", prompt}}}}, {"max_tokens", 512}});
  ASSERT_TRUE(chat_res);
  ASSERT_EQ(chat_res->status, 200);
  const json chat = json::parse(chat_res->body);
  EXPECT_EQ(chat["object"], "chat.completion");
  const json& message = chat["choices"][0]["message"];
  EXPECT_EQ(message["role"], "assistant");
  EXPECT_EQ(message["content"], text);  // the same question gets the same answer on every API
  EXPECT_EQ(chat["choices"][0]["finish_reason"], "stop");
}

TEST(StandinEndpoints, CorrectRateOverAThousandQuestions) {
  auto o = test_options();
  o.accuracy = 0.88;
  o.seed = 20240611;
  Running r(o, probe::generate_gsm8k(1000, 5));
  const std::string prefix = probe::few_shot_prefix(std::span<const probe::Gsm8kItem>(r.data).first(5));
  int correct = 0;
  int predicted = 0;
  for (const auto& item : r.data) {
    const json body = r.generate(probe::question_prompt(prefix, item));
    ASSERT_FALSE(body.is_null());
    const bool right = is_correct(body["text"], item);
    const bool expected = answers_correctly(o.seed, o.accuracy, item.question);
    ASSERT_EQ(right, expected) << item.question << "\n" << body["text"];
    correct += right;
    predicted += expected;
  }
  EXPECT_EQ(correct, predicted);
  // Binomial(1000, 0.88): sd 10.3; five of them either side.
  EXPECT_GT(correct, 880 - 52);
  EXPECT_LT(correct, 880 + 52);
  const auto stats = r.server->stats();
  EXPECT_EQ(stats.answered_correct, correct);
  EXPECT_EQ(stats.answered_wrong + stats.answered_nonanswer, 1000 - correct);
  EXPECT_EQ(stats.generation_requests, 1000);
  EXPECT_EQ(stats.per_question_requests.size(), 1000u);
}

TEST(StandinEndpoints, WarmupTokenLimitAndUnknownQuestion) {
  auto o = test_options();
  o.accuracy = 1.0;
  Running r(o, probe::generate_gsm8k(10, 4));
  const std::string prefix = probe::few_shot_prefix(std::span<const probe::Gsm8kItem>(r.data).first(5));
  const json warm = r.generate(prefix, 0);
  ASSERT_FALSE(warm.is_null());
  EXPECT_EQ(warm["text"], "");
  EXPECT_EQ(warm["meta_info"]["completion_tokens"], 0);
  EXPECT_EQ(warm["meta_info"]["finish_reason"]["type"], "length");

  const json cut = r.generate(r.prompt_for(8), 4);
  EXPECT_EQ(cut["meta_info"]["finish_reason"], (json{{"type", "length"}, {"length", 4}}));
  EXPECT_EQ(test::stream_word_count(cut["text"]), 4);
  EXPECT_EQ(cut["meta_info"]["completion_tokens"], 4);

  const json unknown = r.generate(prefix + "Question: How many moons does Mars have?\nAnswer:");
  EXPECT_FALSE(probe::extract_prediction(probe::Extractor::Sglang, unknown["text"].get<std::string>()).has_value());
  const auto stats = r.server->stats();
  EXPECT_EQ(stats.warmups, 1);
  EXPECT_EQ(stats.unknown_question, 1);
  EXPECT_EQ(stats.answered_correct, 1);
  EXPECT_EQ(stats.generation_requests, 3);
  EXPECT_EQ(stats.per_question_requests.count("How many moons does Mars have?"), 1u);
}

TEST(StandinEndpoints, BadRequestsGetSglangErrors) {
  Running r(test_options(), probe::generate_gsm8k(5, 4));
  auto bad_json = r.client->Post("/generate", "{\"text\": ", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  const json body = json::parse(bad_json->body);
  EXPECT_EQ(body["object"], "error");
  EXPECT_EQ(body["type"], "BadRequestError");
  EXPECT_EQ(body["code"], 400);
  EXPECT_TRUE(body["message"].is_string());
  auto no_text = r.post_json("/generate", {{"sampling_params", {{"max_new_tokens", 5}}}});
  ASSERT_TRUE(no_text);
  EXPECT_EQ(no_text->status, 400);
  EXPECT_NE(json::parse(no_text->body)["message"].get<std::string>().find("text"), std::string::npos);
  EXPECT_EQ(r.server->stats().bad_requests, 2);
}

TEST(StandinEndpoints, ApiKey) {
  auto o = test_options();
  o.api_key = "sekrit";
  Running r(o, probe::generate_gsm8k(5, 4));
  const auto request = Running::sglang_request(r.prompt_for(4));
  auto none = r.post_json("/generate", request);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(json::parse(none->body)["code"], 401);
  auto wrong = r.post_json("/generate", request, {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto right = r.post_json("/generate", request, {{"Authorization", "Bearer sekrit"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  auto info = r.client->Get("/get_model_info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 401);
  auto health = r.client->Get("/health");  // health checks are exempt, as in SGLang
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(r.server->stats().faults.at("unauthorized"), 3);
}

TEST(StandinEndpoints, ReadyAfter) {
  auto o = test_options();
  o.ready_after_s = 0.4;
  Running r(o, probe::generate_gsm8k(5, 4));
  auto early = r.client->Get("/health_generate");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503);
  auto early_generate = r.post_json("/generate", Running::sglang_request(r.prompt_for(4)));
  ASSERT_TRUE(early_generate);
  EXPECT_EQ(early_generate->status, 503);
  EXPECT_EQ(json::parse(early_generate->body)["code"], 503);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto later = r.client->Get("/health");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 200);
  EXPECT_FALSE(r.generate(r.prompt_for(4)).is_null());
  EXPECT_EQ(r.server->stats().faults.at("not_ready"), 2);
}

TEST(StandinEndpoints, CollapseAfterSwitchesAccuracy) {
  auto o = test_options();
  o.accuracy = 1.0;
  o.collapse_after = 30;
  o.collapse_accuracy = 0.0;
  Running r(o, probe::generate_gsm8k(80, 6));
  for (std::size_t i = 0; i < r.data.size(); ++i) {
    const json body = r.generate(r.prompt_for(i));
    EXPECT_EQ(is_correct(body["text"], r.data[i]), i < 30) << i;
  }
  const auto stats = r.server->stats();
  EXPECT_EQ(stats.answered_correct, 30);
  EXPECT_EQ(stats.answered_wrong + stats.answered_nonanswer, 50);
}

TEST(StandinEndpoints, SameSeedSameResponses) {
  auto o = test_options();
  o.accuracy = 0.5;
  o.seed = 42;
  const auto data = probe::generate_gsm8k(40, 8);
  std::vector<std::string> first, second, other_seed;
  for (auto* out : {&first, &second, &other_seed}) {
    auto oo = o;
    if (out == &other_seed) oo.seed = 43;
    Running r(oo, data);
    for (std::size_t i = 0; i < data.size(); ++i) {
      const json body = r.generate(r.prompt_for(i));
      out->push_back(body["text"].get<std::string>() + "|" + body["meta_info"]["id"].get<std::string>());
    }
  }
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other_seed);
}

TEST(StandinEndpoints, StatsEndpointMatchesStats) {
  Running r(test_options(), probe::generate_gsm8k(5, 4));
  r.generate(r.prompt_for(4));
  r.generate(r.prompt_for(4), 0);
  auto res = r.client->Get("/standin/stats");
  ASSERT_TRUE(res);
  const json s = json::parse(res->body);
  const auto stats = r.server->stats();
  EXPECT_EQ(s["generation_requests"], stats.generation_requests);
  EXPECT_EQ(s["generation_requests"], 2);
  EXPECT_EQ(s["warmups"], 1);
  EXPECT_EQ(s["answered_correct"].get<int>() + s["answered_wrong"].get<int>() + s["answered_nonanswer"].get<int>(), 1);
  EXPECT_EQ(s["per_question_requests"][r.data[4].question], 1);
}

TEST(StandinServerLifecycle, TakenPortIsAnInfraError) {
  StandinServer first(test_options(), {});
  first.start();
  auto o = test_options();
  o.port = first.port();
  StandinServer second(o, {});
  try {
    second.start();
    FAIL() << "bound a taken port";
  } catch (const InfraError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos) << e.what();
  }
}

TEST(StandinServerLifecycle, StopIsIdempotentAndWaitReturns) {
  StandinServer server(test_options(), {});
  server.start();
  std::thread waiter([&] { server.wait(); });
  server.stop();
  waiter.join();
  server.stop();
  httplib::Client c("127.0.0.1", server.port());
  EXPECT_FALSE(c.Get("/health"));  // nothing listens any more
}

}  // namespace
}  // namespace mxg::standin
