// Seeded mutation fuzzing of the stand-in's request handling: every mutated body of the three APIs
// either parses into a request or is a BadRequest (a 400); never a crash or another exception.
// Executions: kDefaultRuns per CI run; MXG_FUZZ_RUNS=<n> runs longer on demand.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "harness/standin/request_parse.hpp"
#include "kernels/common/tests/fuzz_runs.hpp"

namespace mxg::standin {
namespace {

constexpr std::uint32_t kSeed = 20261209u;
constexpr long kDefaultRuns = 20000;

struct Seed {
  Api api;
  std::string body;
};

const std::vector<Seed> kSeeds = {
    {Api::Sglang, R"({"text":"Q: 1+1?\nA:","sampling_params":{"max_new_tokens":16,"stop":["\n\n"],"temperature":0}})"},
    {Api::Completions, R"({"model":"m","prompt":"Q: 2+2?","max_tokens":8,"stop":"Q:"})"},
    {Api::Chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":4})"},
};

constexpr std::string_view kAlphabet = "{}[]\",:0123456789-eE.tfnul\\ ax";

std::string mutate(std::string s, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 6);
  for (int e = 0; e < edits; ++e) {
    const std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    const char c = kAlphabet[rng() % kAlphabet.size()];
    switch (rng() % 6) {
      case 0: s.insert(pos, 1, c); break;
      case 1: if (pos < s.size()) s.erase(pos, 1); break;
      case 2: if (pos < s.size()) s[pos] = c; break;
      case 3: s.insert(pos, std::string(rng() % 100, '[')); break;
      case 4: if (pos < s.size()) s.insert(pos, s.substr(pos, rng() % 40)); break;
      default: s.insert(pos, 1, static_cast<char>(rng() % 256)); break;
    }
  }
  return s;
}

TEST(RequestFuzz, MutatedBodiesParseOrAreBadRequests) {
  std::mt19937 rng(kSeed);
  long parsed = 0, refused = 0;
  const long n = mxg::testing::fuzz_runs(kDefaultRuns);
  for (long i = 0; i < n; ++i) {
    const Seed& seed = kSeeds[static_cast<std::size_t>(i) % kSeeds.size()];
    try {
      (void)parse_generation_request(seed.api, mutate(seed.body, rng));
      ++parsed;
    } catch (const BadRequest&) {
      ++refused;
    }
  }
  EXPECT_EQ(parsed + refused, n);
  EXPECT_GT(parsed, 0);
  std::printf("stand-in request fuzz: %ld executions, %ld parsed, %ld refused, 0 crashes\n", n, parsed, refused);
}

TEST(RequestFuzz, NestedFieldsAreBadRequestsNotCrashes) {
  // Reproduces C1 through the stand-in: one POST with a 100,000-level max_new_tokens killed it.
  for (const char* field : {"max_new_tokens", "stop"}) {
    const std::string body = std::string(R"({"text":"q","sampling_params":{")") + field + "\":" +
                             std::string(100000, '[') + std::string(100000, ']') + "}}";
    EXPECT_THROW(parse_generation_request(Api::Sglang, body), BadRequest) << field;
  }
  const std::string chat = R"({"messages":[{"role":"user","content":"x"}],"max_tokens":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_THROW(parse_generation_request(Api::Chat, chat), BadRequest);
}

}  // namespace
}  // namespace mxg::standin
