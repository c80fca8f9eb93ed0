#include "harness/matrix/shard.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <queue>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::matrix {
namespace {

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

ShardSpec parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  ShardSpec s;
  if (slash == std::string_view::npos || !parse_int(text.substr(0, slash), s.index) ||
      !parse_int(text.substr(slash + 1), s.count)) {
    throw InputError(fmt::format("--shard: '{}' is not K/N (e.g. 2/8)", text));
  }
  if (s.count < 1 || s.count > kMaxShards || s.index < 1 || s.index > s.count) {
    throw InputError(fmt::format("--shard: '{}' needs 1 <= K <= N <= {}", text, kMaxShards));
  }
  return s;
}

std::vector<bool> shard_membership(const std::vector<ShardUnit>& units, const ShardSpec& shard) {
  std::vector<bool> member(units.size(), shard.whole());
  if (shard.whole()) return member;
  std::vector<std::size_t> order(units.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (units[a].cost != units[b].cost) return units[a].cost > units[b].cost;
    return units[a].id < units[b].id;
  });
  // Min-heap of (load, shard index): the least-loaded shard, lowest index on ties.
  using Load = std::pair<double, std::int64_t>;
  std::priority_queue<Load, std::vector<Load>, std::greater<>> loads;
  for (std::int64_t k = 0; k < shard.count; ++k) loads.push({0.0, k});
  for (const std::size_t u : order) {
    auto [load, k] = loads.top();
    loads.pop();
    member[u] = (k == shard.index - 1);
    loads.push({load + units[u].cost, k});
  }
  return member;
}

}  // namespace mxg::matrix
