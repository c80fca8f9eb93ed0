// Fuzz-style tests of the probe's parsers of untrusted text: server response bodies (parse_generation,
// server_error_message) and probe.jsonl lines (a baseline file may come from anywhere). Seeded random
// mutations and truncations of valid inputs: each must parse or be rejected cleanly, never crash
// (run under ASan + UBSan in CI).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/probe/server_api.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/splitmix64.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe::testing {
namespace {

std::string mutate(std::string s, SplitMix64& rng) {
  const int edits = 1 + static_cast<int>(rng.next() % 4);
  static const std::string alphabet = "{}[]\",:0123456789.-eE truenulfas\\u00\xff\x80\n";
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const auto pos = static_cast<std::size_t>(rng.next() % s.size());
    switch (rng.next() % 4) {
      case 0: s.erase(pos, 1 + rng.next() % 8); break;
      case 1: s.insert(pos, 1, alphabet[rng.next() % alphabet.size()]); break;
      case 2: s[pos] = alphabet[rng.next() % alphabet.size()]; break;
      default: s.resize(pos); break;  // a truncated body
    }
  }
  return s;
}

TEST(ProbeFuzz, ResponseBodiesParseOrReportAnError) {
  const std::vector<std::pair<Api, std::string>> seeds{
      {Api::Sglang,
       R"({"text":" She sold 48/2 = <<48/2=24>>24 clips.\n#### 72","meta_info":{"id":"a","prompt_tokens":812,)"
       R"("completion_tokens":19,"finish_reason":{"type":"stop","matched":"Question"},"e2e_latency":0.41}})"},
      {Api::Completions,
       R"({"id":"c","object":"text_completion","choices":[{"index":0,"text":" #### 72","finish_reason":"length"}],)"
       R"("usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})"},
      {Api::Chat,
       R"({"choices":[{"index":0,"message":{"role":"assistant","content":null,"reasoning_content":"72"},)"
       R"("finish_reason":"stop"}],"usage":{"completion_tokens":1}})"},
  };
  SplitMix64 rng{20261125};
  std::int64_t parsed = 0, rejected = 0;
  for (int i = 0; i < 6000; ++i) {
    const auto& [api, body] = seeds[static_cast<std::size_t>(i) % seeds.size()];
    const std::string m = mutate(body, rng);
    const ParsedGeneration p = parse_generation(api, m);
    if (p.generation) {
      ++parsed;
    } else {
      ++rejected;
      EXPECT_FALSE(p.error.empty()) << m;  // a rejection always says why
    }
    EXPECT_LE(server_error_message(m).size(), 220u);
  }
  // Both outcomes occur, so the mutations reach past the first byte of the parser.
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 100);
}

TEST(ProbeFuzz, ProbeLinesParseOrThrowInputError) {
  report::ProbeQuestionRecord r;
  r.index = 12;
  r.line = 13;
  r.order = 4;
  r.prompt_hash = "0123456789abcdef";
  r.response = "So 3 + 4 = 7.\n#### 7";
  r.extracted = "7";
  r.label = "7";
  r.correct = true;
  r.finish_reason = "stop";
  r.completion_tokens = 9;
  r.latency_s = 0.5;
  r.attempts = 2;
  std::string line = report::format_probe_line(r);
  line.pop_back();
  SplitMix64 rng{7};
  std::int64_t parsed = 0, rejected = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string m = mutate(line, rng);
    try {
      const auto q = report::parse_probe_line(m);
      EXPECT_GE(q.index, 0);
      ++parsed;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()), "");
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 50);
  EXPECT_GT(rejected, 50);
}

}  // namespace
}  // namespace mxg::probe::testing
