// Test helpers: a stand-in server on an ephemeral port with generated questions, prompts built the way
// the probe builds them, and an independent word count.
#pragma once

#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "harness/probe/gsm8k.hpp"
#include "harness/probe/gsm8k_synth.hpp"
#include "harness/probe/prompt.hpp"
#include "harness/standin/standin_server.hpp"

namespace mxg::standin::test {

inline StandinOptions test_options() {
  StandinOptions o;
  o.port = 0;
  o.threads = 8;
  return o;
}

// The server is declared before the client so the client (and its keep-alive connection) goes first;
// an idle keep-alive connection would otherwise hold the server's stop() for its timeout.
struct Running {
  std::vector<probe::Gsm8kItem> data;
  std::unique_ptr<StandinServer> server;
  std::unique_ptr<httplib::Client> client;

  Running(StandinOptions o, std::vector<probe::Gsm8kItem> items) : data(std::move(items)) {
    server = std::make_unique<StandinServer>(std::move(o), data);
    server->start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // the request's body is a second write: no Nagle wait for it
    client->set_read_timeout(10, 0);
  }
  ~Running() {
    client.reset();
    server.reset();
  }

  // The probe's prompt for item i: the first `shots` items as shots, then the question.
  std::string prompt_for(std::size_t i, std::size_t shots = 3) const {
    const std::string prefix = probe::few_shot_prefix(std::span<const probe::Gsm8kItem>(data).first(shots));
    return probe::question_prompt(prefix, data[i]);
  }

  httplib::Result post_json(const std::string& path, const nlohmann::json& body, httplib::Headers headers = {}) {
    return client->Post(path, headers, body.dump(), "application/json");
  }

  nlohmann::json generate(const std::string& prompt, int max_new_tokens = 512) {
    auto res = post_json("/generate", sglang_request(prompt, max_new_tokens));
    if (!res || res->status != 200) return nullptr;
    return nlohmann::json::parse(res->body);
  }

  static nlohmann::json sglang_request(const std::string& prompt, int max_new_tokens = 512) {
    return {{"text", prompt},
            {"sampling_params",
             {{"max_new_tokens", max_new_tokens}, {"temperature", 0}, {"stop", {"Question", "Assistant:", "<|separator|>"}}}}};
  }
};

// Words counted with the standard stream extractor: independent of the server's own counter.
inline std::int64_t stream_word_count(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  std::int64_t n = 0;
  while (in >> word) ++n;
  return n;
}

}  // namespace mxg::standin::test
