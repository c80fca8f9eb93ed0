// `--shard K/N`: a deterministic split of a matrix run into N parts of about equal estimated cost,
// so a CI system can run the parts as parallel jobs and `mxguard merge` their outputs. The same
// case files, filters and seeds give every shard the same plan, so the N shards together run each
// combination exactly once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::matrix {

struct ShardSpec {
  std::int64_t index = 1;  // K, 1-based
  std::int64_t count = 1;  // N

  bool whole() const { return count == 1; }
};

// "K/N" with 1 <= K <= N <= kMaxShards; throws InputError "--shard: ..." naming the value.
inline constexpr std::int64_t kMaxShards = 10000000;  // the nightly tier is ~1.4 M combinations: a shard per combination is allowed
ShardSpec parse_shard(std::string_view text);

// One unit of work the splitter places: its id (the tie-break, so the split does not depend on
// the order units are listed in) and its estimated cost.
struct ShardUnit {
  std::string id;
  double cost = 1;
};

// For each unit, whether it belongs to `shard`: units sorted by cost (largest first, then id) go
// one by one to the currently least-loaded shard (the longest-processing-time rule; its makespan
// is within 4/3 of the optimum).
std::vector<bool> shard_membership(const std::vector<ShardUnit>& units, const ShardSpec& shard);

}  // namespace mxg::matrix
