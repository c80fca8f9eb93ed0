// group_failures on constructed tables; every expected rule below is worked out by hand in the comments
// (FOIL gain = p1 * (log2(p1 / (p1 + n1)) - log2(p0 / (p0 + n0)))).
#include "reports/html/failure_groups.hpp"

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace mxg::report::html {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs named(const AttributeTable& t, const std::vector<Condition>& cs) {
  Pairs out;
  for (const Condition& c : cs) out.emplace_back(t.name(c.attribute), t.value(c.attribute, c.value));
  return out;
}

std::vector<std::size_t> all_rows(const AttributeTable& t) {
  std::vector<std::size_t> rows(t.rows());
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

// flag x gate x tp x seed, 16 rows; the FAILs are flag=1, gate=interleave, tp=8 (both seeds).
TEST(FailureGroups, OneClusterIsDescribedByExactlyItsValues) {
  AttributeTable t({"flag", "gate", "tp", "seed"});
  std::vector<bool> failing;
  for (const char* flag : {"0", "1"})
    for (const char* gate : {"separated", "interleave"})
      for (const char* tp : {"1", "8"})
        for (const char* seed : {"0", "1"}) {
          t.add_row({flag, gate, tp, seed});
          failing.push_back(std::string(flag) == "1" && std::string(gate) == "interleave" && std::string(tp) == "8");
        }
  // p0 = 2, n0 = 14. flag=1, gate=interleave and tp=8 each keep both failures and 6 of 14 others:
  // gain 2 * (log2(2/8) - log2(2/16)) = 2 each; seed=0 keeps one: gain 0. The tie goes to the earlier
  // attribute (flag); then gate=interleave (gain 2, tie with tp), then tp=8 leaves no non-failure.
  const Grouping g = group_failures(t, all_rows(t), failing);
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_EQ(named(t, g.groups[0].rule), (Pairs{{"flag", "1"}, {"gate", "interleave"}, {"tp", "8"}}));
  EXPECT_TRUE(g.groups[0].shared.empty());  // the two members differ in seed
  EXPECT_EQ(g.groups[0].members.size(), 2u);
  EXPECT_EQ(g.groups[0].matching, 2);
  EXPECT_EQ(g.groups[0].failures_matching, 2);
  EXPECT_TRUE(g.remainder.empty());
}

// prep {a,b,c} x flag {0,1} x tp {1,2,4,8}: 24 rows. Failures: prep=c & flag=1 (4 rows) and
// prep=a & tp=8 (2 rows).
struct TwoClusters {
  AttributeTable t{{"prep", "flag", "tp"}};
  std::vector<bool> failing;
  TwoClusters() {
    for (const char* prep : {"a", "b", "c"})
      for (const char* flag : {"0", "1"})
        for (const char* tp : {"1", "2", "4", "8"}) {
          t.add_row({prep, flag, tp});
          const std::string p = prep, f = flag, s = tp;
          failing.push_back((p == "c" && f == "1") || (p == "a" && s == "8"));
        }
  }
};

TEST(FailureGroups, TwoClustersAreFoundLargestGainFirst) {
  TwoClusters c;
  // Round 1 (p0 = 6, n0 = 18, log2 precision -2): prep=c keeps 4 of 6 with 4 others: gain 4 * (-1 + 2) = 4;
  // flag=1: 5 with 7 others: 5 * (log2(5/12) + 2) = 3.68; tp=8: 3 with 3: 3; prep=a: 2 with 6: 0.
  // Then flag=1 inside prep=c leaves 4 failures and nothing else (gain 4).
  // Round 2 (the prep=c failures are set aside; p0 = 2, n0 = 18, log2(2/20) = -3.32): tp=8 keeps both with
  // 3 others: 2 * (log2(2/5) + 3.32) = 4.0; prep=a: 2 with 6: 2.64. Then prep=a (gain 2.64) leaves none.
  const Grouping g = group_failures(c.t, all_rows(c.t), c.failing);
  ASSERT_EQ(g.groups.size(), 2u);
  EXPECT_EQ(named(c.t, g.groups[0].rule), (Pairs{{"prep", "c"}, {"flag", "1"}}));
  EXPECT_EQ(g.groups[0].members.size(), 4u);
  EXPECT_EQ(g.groups[0].matching, 4);
  EXPECT_TRUE(g.groups[0].shared.empty());  // tp differs
  EXPECT_EQ(named(c.t, g.groups[1].rule), (Pairs{{"tp", "8"}, {"prep", "a"}}));
  EXPECT_EQ(g.groups[1].members.size(), 2u);
  EXPECT_EQ(g.groups[1].matching, 2);
  EXPECT_EQ(g.groups[1].failures_matching, 2);
  EXPECT_TRUE(g.remainder.empty());
}

TEST(FailureGroups, FailuresBeyondTheGroupLimitAreTheRemainder) {
  TwoClusters c;
  const Grouping g = group_failures(c.t, all_rows(c.t), c.failing, GroupingOptions{1, 6});
  ASSERT_EQ(g.groups.size(), 1u);
  // The prep=a, tp=8 rows: indices prep a (0..7), flag 0/1 (x4), tp 8 is the 4th tp -> rows 3 and 7.
  EXPECT_EQ(g.remainder, (std::vector<std::size_t>{3, 7}));
}

TEST(FailureGroups, SharedValuesBeyondTheRuleAreListedButConstantAttributesAreNot) {
  // flag x shape x seed, tp derived from shape (one to one), backend constant. Failures: flag=1 on B-tp8.
  AttributeTable t({"flag", "tp", "shape", "seed", "backend"});
  std::vector<bool> failing;
  for (const char* flag : {"0", "1"})
    for (const auto& [shape, tp] : std::vector<std::pair<const char*, const char*>>{{"A-tp1", "1"}, {"B-tp8", "8"}})
      for (const char* seed : {"0", "1"}) {
        t.add_row({flag, tp, shape, seed, "host"});
        failing.push_back(std::string(flag) == "1" && std::string(tp) == "8");
      }
  // flag=1, tp=8 and shape=B-tp8 all score 2 * (log2(2/4) - log2(2/8)) = 2: flag first, then tp=8 beats
  // shape=B-tp8 (same gain and count, earlier attribute). shape is then shared by both members; backend
  // never varies, so it says nothing.
  const Grouping g = group_failures(t, all_rows(t), failing);
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_EQ(named(t, g.groups[0].rule), (Pairs{{"flag", "1"}, {"tp", "8"}}));
  EXPECT_EQ(named(t, g.groups[0].shared), (Pairs{{"shape", "B-tp8"}}));
}

TEST(FailureGroups, WhenEverythingFailsTheRuleIsEmpty) {
  AttributeTable t({"flag"});
  t.add_row({"0"});
  t.add_row({"1"});
  const Grouping g = group_failures(t, all_rows(t), {true, true});
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_TRUE(g.groups[0].rule.empty());
  EXPECT_EQ(g.groups[0].members.size(), 2u);
  EXPECT_EQ(g.groups[0].matching, 2);
}

TEST(FailureGroups, RowsOutsideTheUniverseAreIgnored) {
  // Four rows; the universe is rows 0..2. Row 3 fails but is outside, so only row 1 is grouped, and the
  // rule needs to separate it from rows 0 and 2 only.
  AttributeTable t({"flag", "gate"});
  t.add_row({"0", "s"});
  t.add_row({"1", "s"});
  t.add_row({"0", "i"});
  t.add_row({"1", "i"});
  const Grouping g = group_failures(t, {0, 1, 2}, {false, true, false, true});
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_EQ(g.groups[0].members, (std::vector<std::size_t>{1}));
  // flag=1: p 1, n 0 -> gain 1 * (0 - log2(1/3)) = 1.58; gate=s: p 1, n 1 -> 0.58. One condition suffices.
  EXPECT_EQ(named(t, g.groups[0].rule), (Pairs{{"flag", "1"}}));
  EXPECT_EQ(g.groups[0].matching, 1);
}

TEST(FailureGroups, NoFailuresNoGroups) {
  AttributeTable t({"flag"});
  t.add_row({"0"});
  t.add_row({"1"});
  const Grouping g = group_failures(t, all_rows(t), {false, false});
  EXPECT_TRUE(g.groups.empty());
  EXPECT_TRUE(g.remainder.empty());
}

}  // namespace
}  // namespace mxg::report::html
