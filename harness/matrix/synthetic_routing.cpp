// Seeded routing distributions and compaction. Compiled with -ffp-contract=off (see
// seeded_random.cpp): the softmax must give the same bits on every CPU.
#include "harness/matrix/synthetic_routing.hpp"

#include <algorithm>
#include <numeric>

#include "harness/matrix/seeded_random.hpp"

namespace mxg::matrix {
namespace {

// Idle experts materialised for SomeEmpty: enough for the kernel to meet an empty expert
// between routed ones, few enough to cost little.
constexpr std::int64_t kIdleExperts = 2;

// Seeded ordering of all experts: the first ones are the "hot" / pooled ones.
std::vector<std::int64_t> shuffled_experts(std::int64_t experts, SeededStream& rng) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(experts));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  for (std::int64_t i = experts - 1; i > 0; --i) {
    std::swap(order[static_cast<std::size_t>(i)], order[rng.below(static_cast<std::uint64_t>(i + 1))]);
  }
  return order;
}

// `count` distinct entries of `candidates`, uniformly (partial Fisher–Yates on a copy).
void draw_distinct(std::vector<std::int64_t> candidates, std::int64_t count, SeededStream& rng,
                   std::vector<std::int64_t>& out) {
  for (std::int64_t i = 0; i < count; ++i) {
    const auto remaining = static_cast<std::uint64_t>(candidates.size()) - static_cast<std::uint64_t>(i);
    const auto j = static_cast<std::size_t>(i) + rng.below(remaining);
    std::swap(candidates[static_cast<std::size_t>(i)], candidates[j]);
    out.push_back(candidates[static_cast<std::size_t>(i)]);
  }
}

// k distinct experts drawn one after another, each with probability proportional to the Zipf
// weight 1/(rank+1) among those not drawn yet.
void draw_zipf(const std::vector<std::int64_t>& ranking, std::int64_t count, SeededStream& rng,
               std::vector<std::int64_t>& out) {
  std::vector<bool> taken(ranking.size(), false);
  for (std::int64_t n = 0; n < count; ++n) {
    double total = 0;
    for (std::size_t i = 0; i < ranking.size(); ++i) total += taken[i] ? 0.0 : 1.0 / static_cast<double>(i + 1);
    const double target = rng.uniform() * total;
    double cumulative = 0;
    std::size_t pick = ranking.size();
    std::size_t last_free = 0;
    for (std::size_t i = 0; i < ranking.size(); ++i) {
      if (taken[i]) continue;
      last_free = i;
      cumulative += 1.0 / static_cast<double>(i + 1);
      if (target < cumulative) {
        pick = i;
        break;
      }
    }
    if (pick == ranking.size()) pick = last_free;  // target rounding up to `total`
    taken[pick] = true;
    out.push_back(ranking[pick]);
  }
}

void append_softmax_weights(std::int64_t k, SeededStream& rng, std::vector<float>& out) {
  std::vector<double> logits(static_cast<std::size_t>(k));
  for (auto& l : logits) l = rng.normal();
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (auto& l : logits) sum += (l = portable_exp(l - top));
  for (double l : logits) out.push_back(static_cast<float>(l / sum));
}

}  // namespace

TokenRouting route_tokens(std::int64_t experts, std::int64_t topk, std::int64_t tokens, Routing routing,
                          std::uint64_t seed) {
  SeededStream rng(seed, "routing");
  TokenRouting r;
  r.tokens = tokens;
  r.topk = topk;
  r.experts.reserve(static_cast<std::size_t>(tokens * topk));
  r.weights.reserve(static_cast<std::size_t>(tokens * topk));

  // Per-case draws come first, per-token draws after, so token t's routing is the same for any T > t.
  const std::vector<std::int64_t> ranking = shuffled_experts(experts, rng);
  std::vector<std::int64_t> candidates = ranking;
  if (routing == Routing::SomeEmpty) candidates.resize(static_cast<std::size_t>(std::max(topk, experts / 2)));
  const std::int64_t hot = ranking.front();
  std::vector<std::int64_t> others;  // every expert except `hot`
  for (std::int64_t e : ranking) {
    if (e != hot) others.push_back(e);
  }

  for (std::int64_t t = 0; t < tokens; ++t) {
    switch (routing) {
      case Routing::Uniform:
      case Routing::SomeEmpty:
        draw_distinct(candidates, topk, rng, r.experts);
        break;
      case Routing::Skewed:
        draw_zipf(ranking, topk, rng, r.experts);
        break;
      case Routing::OneExpert:
        r.experts.push_back(hot);
        draw_distinct(others, topk - 1, rng, r.experts);
        break;
    }
    append_softmax_weights(topk, rng, r.weights);
  }

  if (routing == Routing::SomeEmpty) {
    // Idle experts come from outside the pool, in seeded order, so they usually sit between
    // routed expert numbers rather than only after them.
    for (std::size_t i = candidates.size(); i < ranking.size() && std::ssize(r.idle_experts) < kIdleExperts; ++i) {
      r.idle_experts.push_back(ranking[i]);
    }
  }
  return r;
}

CompactRouting compact_routing(const TokenRouting& routing) {
  CompactRouting c;
  c.expert_ids = routing.experts;
  c.expert_ids.insert(c.expert_ids.end(), routing.idle_experts.begin(), routing.idle_experts.end());
  std::sort(c.expert_ids.begin(), c.expert_ids.end());
  c.expert_ids.erase(std::unique(c.expert_ids.begin(), c.expert_ids.end()), c.expert_ids.end());
  c.topk_ids.reserve(routing.experts.size());
  for (std::int64_t e : routing.experts) {
    const auto at = std::lower_bound(c.expert_ids.begin(), c.expert_ids.end(), e);
    c.topk_ids.push_back(static_cast<std::int32_t>(at - c.expert_ids.begin()));
  }
  return c;
}

}  // namespace mxg::matrix
