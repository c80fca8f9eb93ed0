// --shard: every unit in exactly one shard, balanced loads, independence from listing order, and
// the K/N parser's refusals.
#include "harness/matrix/shard.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"

namespace mxg::matrix {
namespace {

std::vector<ShardUnit> random_units(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> cost(1.0, 1000.0);
  std::vector<ShardUnit> units;
  for (int i = 0; i < n; ++i) units.push_back({"unit-" + std::to_string(i), cost(rng)});
  return units;
}

TEST(Shard, EveryUnitInExactlyOneShardAndLoadsWithinOneUnitOfTheMean) {
  const auto units = random_units(997, 7);
  const double largest = std::max_element(units.begin(), units.end(), [](auto& a, auto& b) { return a.cost < b.cost; })->cost;
  const double sum = std::accumulate(units.begin(), units.end(), 0.0, [](double s, auto& u) { return s + u.cost; });
  for (std::int64_t n : {1, 2, 3, 8, 50}) {
    std::vector<int> owners(units.size(), 0);
    for (std::int64_t k = 1; k <= n; ++k) {
      const auto member = shard_membership(units, {k, n});
      double load = 0;
      for (std::size_t u = 0; u < units.size(); ++u) {
        if (member[u]) {
          ++owners[u];
          load += units[u].cost;
        }
      }
      // Greedy least-loaded placement: a shard only receives a unit while it is at or below the
      // mean, so no shard exceeds the mean by more than one unit's cost.
      EXPECT_LE(load, sum / static_cast<double>(n) + largest) << "shard " << k << "/" << n;
    }
    for (std::size_t u = 0; u < units.size(); ++u) ASSERT_EQ(owners[u], 1) << units[u].id << " with N=" << n;
  }
}

TEST(Shard, EqualCostsSplitIntoCountsDifferingByAtMostOne) {
  std::vector<ShardUnit> units;
  for (int i = 0; i < 23; ++i) units.push_back({"u" + std::to_string(i), 5.0});
  for (std::int64_t k = 1; k <= 4; ++k) {
    const auto member = shard_membership(units, {k, 4});
    const auto count = std::count(member.begin(), member.end(), true);
    EXPECT_TRUE(count == 5 || count == 6) << count;
  }
}

TEST(Shard, MembershipDoesNotDependOnTheOrderUnitsAreListed) {
  auto units = random_units(200, 3);
  const auto before = shard_membership(units, {2, 5});
  std::vector<std::string> chosen;
  for (std::size_t u = 0; u < units.size(); ++u)
    if (before[u]) chosen.push_back(units[u].id);
  std::reverse(units.begin(), units.end());
  const auto after = shard_membership(units, {2, 5});
  std::vector<std::string> chosen_after;
  for (std::size_t u = 0; u < units.size(); ++u)
    if (after[u]) chosen_after.push_back(units[u].id);
  std::sort(chosen.begin(), chosen.end());
  std::sort(chosen_after.begin(), chosen_after.end());
  EXPECT_EQ(chosen, chosen_after);
}

TEST(Shard, ParsesKOverNAndRefusesEverythingElse) {
  const auto s = parse_shard("3/8");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 8);
  EXPECT_TRUE(parse_shard("1/1").whole());
  for (const char* bad : {"", "3", "0/4", "5/4", "-1/4", "1/0", "1/10000001", "a/b", "1/4/2", "1 /4", "2/99999999999999999999"}) {
    try {
      parse_shard(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--shard"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mxg::matrix
