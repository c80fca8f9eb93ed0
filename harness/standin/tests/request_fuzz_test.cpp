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
#include "kernels/common/tests/json_fuzzing.hpp"

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

constexpr mxg::testing::JsonMutator kMutate{"{}[]\",:0123456789-eE.tfnul\\ ax", 6, 100, 40, false};

TEST(RequestFuzz, MutatedBodiesParseOrAreBadRequests) {
  std::mt19937 rng(kSeed);
  long parsed = 0, refused = 0;
  const long n = mxg::testing::fuzz_runs(kDefaultRuns);
  for (long i = 0; i < n; ++i) {
    const Seed& seed = kSeeds[static_cast<std::size_t>(i) % kSeeds.size()];
    try {
      (void)parse_generation_request(seed.api, kMutate(seed.body, rng));
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
