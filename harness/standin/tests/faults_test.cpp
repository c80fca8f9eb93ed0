// Injected faults: each one seen at about its rate, with its signature on the wire, counted in the
// stats; drops are transport errors, hangs end on stop(), latency delays, retries draw again.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>

#include "harness/standin/tests/standin_fixture.hpp"

namespace mxg::standin {
namespace {

using nlohmann::json;
using test::Running;
using test::test_options;

constexpr int kRequests = 300;
constexpr double kRate = 0.3;

// Binomial(kRequests, kRate) within five standard deviations.
void expect_about_rate(int observed) {
  const double sd = std::sqrt(kRequests * kRate * (1 - kRate));
  EXPECT_LT(std::abs(observed - kRequests * kRate), 5 * sd) << observed;
}

// Sends kRequests generations (distinct questions) and counts those `is_fault` recognises.
template <class IsFault>
int count_faults(Running& r, IsFault is_fault) {
  int seen = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto res = r.post_json("/generate", Running::sglang_request(r.prompt_for(static_cast<std::size_t>(i))));
    seen += is_fault(res) ? 1 : 0;
  }
  return seen;
}

StandinOptions with(void (*set)(StandinOptions&)) {
  auto o = test_options();
  set(o);
  return o;
}

std::optional<json> parsed(const std::string& body) {
  try {
    return json::parse(body);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

TEST(StandinFaults, ErrorStatusAndBody) {
  Running r(with([](auto& o) { o.error_rate = kRate; o.error_status = 429; }), probe::generate_gsm8k(kRequests, 1));
  const int seen = count_faults(r, [](const httplib::Result& res) {
    if (!res || res->status == 200) return false;
    EXPECT_EQ(res->status, 429);
    EXPECT_EQ(json::parse(res->body)["code"], 429);
    return true;
  });
  expect_about_rate(seen);
  EXPECT_EQ(r.server->stats().faults.at("error"), seen);
}

TEST(StandinFaults, MalformedBodiesLackTheText) {
  Running r(with([](auto& o) { o.malformed_rate = kRate; }), probe::generate_gsm8k(kRequests, 2));
  int invalid_json = 0;
  const int seen = count_faults(r, [&](const httplib::Result& res) {
    if (!res) return false;
    EXPECT_EQ(res->status, 200);
    const auto body = parsed(res->body);
    if (body && body->contains("text")) return false;
    invalid_json += body ? 0 : 1;
    return true;
  });
  expect_about_rate(seen);
  EXPECT_GT(invalid_json, 0);
  EXPECT_LT(invalid_json, seen);  // both kinds: not JSON at all, and JSON without "text"
  EXPECT_EQ(r.server->stats().faults.at("malformed"), seen);
}

TEST(StandinFaults, AbortAndTruncateFinishReasons) {
  Running r(with([](auto& o) { o.abort_rate = kRate; }), probe::generate_gsm8k(kRequests, 3));
  const int aborts = count_faults(r, [](const httplib::Result& res) {
    const json body = json::parse(res->body);
    if (body["meta_info"]["finish_reason"]["type"] != "abort") return false;
    EXPECT_TRUE(body["meta_info"]["finish_reason"]["message"].is_string());
    return true;
  });
  expect_about_rate(aborts);
  EXPECT_EQ(r.server->stats().faults.at("abort"), aborts);

  Running t(with([](auto& o) { o.truncate_rate = kRate; }), probe::generate_gsm8k(kRequests, 3));
  const int truncated = count_faults(t, [](const httplib::Result& res) {
    const json body = json::parse(res->body);
    if (body["meta_info"]["finish_reason"]["type"] != "length") return false;
    EXPECT_LT(body["meta_info"]["finish_reason"]["length"].get<int>(), 512);
    EXPECT_EQ(body["meta_info"]["completion_tokens"], test::stream_word_count(body["text"]));
    return true;
  });
  expect_about_rate(truncated);
  EXPECT_EQ(t.server->stats().faults.at("truncate"), truncated);
}

TEST(StandinFaults, DropIsATransportError) {
  Running r(with([](auto& o) { o.drop_rate = kRate; }), probe::generate_gsm8k(kRequests, 4));
  const int seen = count_faults(r, [](const httplib::Result& res) {
    if (res) {
      EXPECT_EQ(res->status, 200);
      return false;
    }
    EXPECT_NE(res.error(), httplib::Error::Success);
    return true;
  });
  expect_about_rate(seen);
  EXPECT_EQ(r.server->stats().faults.at("drop"), seen);
}

TEST(StandinFaults, HangEndsWhenTheServerStops) {
  auto o = test_options();
  o.hang_rate = 1.0;
  auto data = probe::generate_gsm8k(3, 5);
  StandinServer server(o, data);
  server.start();
  const int port = server.port();
  const std::string prompt = probe::question_prompt("", data[0]);
  auto pending = std::async(std::launch::async, [port, prompt] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    auto res = c.Post("/generate", Running::sglang_request(prompt).dump(), "application/json");
    return res ? res->status : -1;
  });
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);  // it hangs
  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(1)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(pending.get(), 503);
  EXPECT_EQ(server.stats().faults.at("hang"), 1);
}

TEST(StandinFaults, LatencyDelaysEveryGeneration) {
  auto o = test_options();
  o.latency_ms = 150;
  Running r(o, probe::generate_gsm8k(3, 6));
  const auto t0 = std::chrono::steady_clock::now();
  const json body = r.generate(r.prompt_for(2));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
  EXPECT_GE(body["meta_info"]["e2e_latency"].get<double>(), 0.15);
}

TEST(StandinFaults, RetriesDrawAgainDeterministically) {
  auto o = test_options();
  o.error_rate = 0.5;
  const auto data = probe::generate_gsm8k(3, 7);
  std::vector<int> first, second;
  for (auto* statuses : {&first, &second}) {
    Running r(o, data);
    for (int attempt = 0; attempt < 60; ++attempt) {
      auto res = r.post_json("/generate", Running::sglang_request(r.prompt_for(2)));
      statuses->push_back(res ? res->status : -1);
    }
    EXPECT_EQ(r.server->stats().per_question_requests.at(data[2].question), 60);
  }
  EXPECT_EQ(first, second);  // same seed, same sequence of outcomes
  const auto errors = std::count(first.begin(), first.end(), 500);
  EXPECT_GT(errors, 10);  // the same question fails on some attempts and succeeds on others
  EXPECT_LT(errors, 50);
}

TEST(StandinFaults, WarmupsNeverFault) {
  auto o = test_options();
  o.error_rate = 1.0;
  Running r(o, probe::generate_gsm8k(6, 8));
  const json warm = r.generate(probe::few_shot_prefix(std::span<const probe::Gsm8kItem>(r.data).first(5)), 0);
  ASSERT_FALSE(warm.is_null());
  EXPECT_EQ(warm["text"], "");
  EXPECT_TRUE(r.generate(r.prompt_for(5)).is_null());  // an answer request gets the error
}

}  // namespace
}  // namespace mxg::standin
