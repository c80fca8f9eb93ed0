// Synthetic top-k routing of T tokens over a model's E experts for each Routing distribution,
// and its compaction onto the experts that are materialised.
#pragma once

#include <cstdint>
#include <vector>

#include "harness/matrix/case_spec.hpp"

namespace mxg::matrix {

struct TokenRouting {
  std::int64_t tokens = 0, topk = 0;
  std::vector<std::int64_t> experts;  // [T*k] model expert numbers, distinct within a token
  std::vector<float> weights;         // [T*k] softmax of k random logits; each row sums to 1
  // Experts that receive no token but should be materialised anyway (Routing::SomeEmpty only).
  std::vector<std::int64_t> idle_experts;
};

// Preconditions (checked when the case loads): 1 <= topk <= experts, tokens >= 1, and
// topk < experts for SomeEmpty. Per distribution:
//   Uniform   — k distinct experts drawn uniformly;
//   Skewed    — drawn without replacement with Zipf weights 1/(i+1) over a seeded ranking of the
//               experts, so a few experts receive most tokens;
//   OneExpert — every token's first choice is the same expert, the other k-1 uniform and distinct;
//   SomeEmpty — drawn only from a seeded pool of max(k, E/2) experts, so the rest get no token.
TokenRouting route_tokens(std::int64_t experts, std::int64_t topk, std::int64_t tokens, Routing routing,
                          std::uint64_t seed);

struct CompactRouting {
  std::vector<std::int64_t> expert_ids;  // routed and idle experts, increasing model numbers
  std::vector<std::int32_t> topk_ids;    // [T*k] positions in expert_ids
};
CompactRouting compact_routing(const TokenRouting& routing);

}  // namespace mxg::matrix
