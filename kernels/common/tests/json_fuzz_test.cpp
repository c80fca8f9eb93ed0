// Seeded mutation fuzzing of the bounded JSON reader: every mutant either parses (within the depth
// limit) or raises InputError in one line; never a crash, never another exception type.
// Executions: kDefaultRuns per CI run; MXG_FUZZ_RUNS=<n> runs longer on demand.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/tests/json_fuzzing.hpp"

namespace mxg::json_read {
namespace {

constexpr std::uint32_t kSeed = 20261208u;
constexpr long kDefaultRuns = 20000;

const std::vector<std::string> kSeeds = {
    R"({"t":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"__metadata__":{"k":"v"}})",
    R"({"text":"a\u00e9\"b","max_new_tokens":16,"stop":["\n",null],"detail":[[1.5e300,-0,true]]})",
    R"([{"id":"c","shape":{"T":1,"H":64},"seeds":[1,2]},[],{},"",0.1e-7])",
};

constexpr mxg::testing::JsonMutator kMutate{"{}[]\",:0123456789.eE+-tfnul\\ abx", 8, 200, 64, true};

TEST(JsonFuzz, MutantsParseOrFailInOneLine) {
  std::mt19937 rng(kSeed);
  long parsed = 0, refused = 0;
  const long n = mxg::testing::fuzz_runs(kDefaultRuns);
  for (long i = 0; i < n; ++i) {
    const std::string text = kMutate(kSeeds[static_cast<std::size_t>(i) % kSeeds.size()], rng);
    try {
      const auto j = parse_ordered(text, "fuzz");
      (void)show(j);
      ++parsed;
    } catch (const InputError& e) {
      ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(parsed + refused, n);
  EXPECT_GT(parsed, 0);  // the mutator still reaches the value paths
  RecordProperty("executions", static_cast<int>(n));
  std::printf("json fuzz: %ld executions, %ld parsed, %ld refused, 0 crashes\n", n, parsed, refused);
}

}  // namespace
}  // namespace mxg::json_read
