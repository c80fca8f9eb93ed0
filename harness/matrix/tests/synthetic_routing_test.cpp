// Tests of the routing distributions' defining properties and of compaction.
#include "harness/matrix/synthetic_routing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace mxg::matrix {
namespace {

constexpr Routing kAllRoutings[] = {Routing::Uniform, Routing::Skewed, Routing::OneExpert, Routing::SomeEmpty};

std::map<std::int64_t, int> token_counts(const TokenRouting& r) {
  std::map<std::int64_t, int> counts;
  for (std::int64_t e : r.experts) ++counts[e];
  return counts;
}

TEST(RouteTokens, EveryRoutingPicksDistinctExpertsWithWeightsSummingToOne) {
  for (Routing routing : kAllRoutings) {
    for (auto [experts, topk] : {std::pair{8, 2}, std::pair{32, 4}, std::pair{128, 4}, std::pair{5, 4}}) {
      const TokenRouting r = route_tokens(experts, topk, 64, routing, 11);
      ASSERT_EQ(r.experts.size(), 64u * topk);
      ASSERT_EQ(r.weights.size(), 64u * topk);
      for (int t = 0; t < 64; ++t) {
        std::set<std::int64_t> seen;
        double sum = 0;
        for (int j = 0; j < topk; ++j) {
          const std::int64_t e = r.experts[t * topk + j];
          ASSERT_GE(e, 0);
          ASSERT_LT(e, experts);
          ASSERT_TRUE(seen.insert(e).second) << routing_name(routing) << ": token " << t << " repeats expert " << e;
          const float w = r.weights[t * topk + j];
          ASSERT_GT(w, 0.0f);
          sum += w;
        }
        ASSERT_NEAR(sum, 1.0, 1e-6);
      }
    }
  }
}

TEST(RouteTokens, SameSeedSameRoutingOtherSeedOther) {
  for (Routing routing : kAllRoutings) {
    const TokenRouting a = route_tokens(32, 4, 16, routing, 3), b = route_tokens(32, 4, 16, routing, 3);
    EXPECT_EQ(a.experts, b.experts);
    EXPECT_EQ(a.weights, b.weights);
    EXPECT_NE(a.weights, route_tokens(32, 4, 16, routing, 4).weights);
  }
}

TEST(RouteTokens, UniformReachesEveryExpertEvenly) {
  const auto counts = token_counts(route_tokens(32, 4, 4096, Routing::Uniform, 1));
  ASSERT_EQ(counts.size(), 32u);
  // 512 expected per expert; binomial sd ~21.
  for (auto [e, c] : counts) EXPECT_NEAR(c, 512, 120) << "expert " << e;
}

TEST(RouteTokens, SkewedConcentratesOnAFewExperts) {
  const auto counts = token_counts(route_tokens(32, 4, 1024, Routing::Skewed, 1));
  int top = 0;
  for (auto [e, c] : counts) top = std::max(top, c);
  // Uniform routing would give each expert 1024·4/32 = 128 tokens.
  EXPECT_GT(top, 3 * 128);
}

TEST(RouteTokens, OneExpertIsEveryTokensFirstChoice) {
  const TokenRouting r = route_tokens(16, 3, 50, Routing::OneExpert, 5);
  const std::int64_t hot = r.experts[0];
  for (int t = 0; t < 50; ++t) {
    EXPECT_EQ(r.experts[t * 3], hot);
    EXPECT_NE(r.experts[t * 3 + 1], hot);
    EXPECT_NE(r.experts[t * 3 + 2], hot);
  }
  // k = 1: the whole routing is one expert.
  const auto single = token_counts(route_tokens(16, 1, 50, Routing::OneExpert, 5));
  EXPECT_EQ(single.size(), 1u);
}

TEST(RouteTokens, SomeEmptyLeavesHalfTheExpertsWithoutTokens) {
  for (auto [experts, topk] : {std::pair{8, 2}, std::pair{128, 4}, std::pair{5, 4}}) {
    const TokenRouting r = route_tokens(experts, topk, 2048, Routing::SomeEmpty, 2);
    const auto counts = token_counts(r);
    // The pool has max(k, E/2) experts and 2048 tokens reach all of them.
    EXPECT_EQ(static_cast<std::int64_t>(counts.size()), std::max(topk, experts / 2));
    EXPECT_EQ(r.idle_experts.size(), static_cast<std::size_t>(std::min(2, experts - std::max(topk, experts / 2))));
    for (std::int64_t idle : r.idle_experts) {
      EXPECT_EQ(counts.count(idle), 0u) << "idle expert " << idle << " has tokens";
      EXPECT_LT(idle, experts);
    }
  }
  EXPECT_TRUE(route_tokens(8, 2, 16, Routing::Uniform, 2).idle_experts.empty());
}

TEST(RouteTokens, EarlierTokensDoNotDependOnTheTokenCount) {
  for (Routing routing : kAllRoutings) {
    const TokenRouting few = route_tokens(32, 4, 3, routing, 8), many = route_tokens(32, 4, 40, routing, 8);
    EXPECT_TRUE(std::equal(few.experts.begin(), few.experts.end(), many.experts.begin())) << routing_name(routing);
    EXPECT_TRUE(std::equal(few.weights.begin(), few.weights.end(), many.weights.begin())) << routing_name(routing);
  }
}

TEST(CompactRouting, MapsTokensOntoSortedMaterialisedExperts) {
  TokenRouting r;
  r.tokens = 2;
  r.topk = 2;
  r.experts = {5, 2, 9, 2};
  r.idle_experts = {7};
  const CompactRouting c = compact_routing(r);
  EXPECT_EQ(c.expert_ids, (std::vector<std::int64_t>{2, 5, 7, 9}));
  EXPECT_EQ(c.topk_ids, (std::vector<std::int32_t>{1, 0, 3, 0}));
}

}  // namespace
}  // namespace mxg::matrix
