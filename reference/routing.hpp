// Router of the reference: logits = W_r x + b_r, top-k selection and routing weights
// (LAYOUTS.md §3 step 1, plus the softmax-then-top-k variants); and routings given from outside.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/tensor/safetensors.hpp"
#include "kernels/tensor/tensor.hpp"
#include "reference/moe_config.hpp"
#include "reference/moe_weights.hpp"

namespace mxg::ref {

// Row-major [tokens, topk]. Slot j of a token is its j-th choice (highest logit first). Weights
// are kept in double so that a float routing and an f64 gold routing share one type; a float
// routing's weights are exactly its float values.
struct Routing {
  std::int64_t tokens = 0;
  std::int64_t topk = 0;
  std::vector<std::int32_t> ids;
  std::vector<double> weights;

  std::int32_t id(std::int64_t t, std::int64_t j) const { return ids[static_cast<std::size_t>(t * topk + j)]; }
  double weight(std::int64_t t, std::int64_t j) const { return weights[static_cast<std::size_t>(t * topk + j)]; }
};

// Top-k and weights from logits [tokens, experts] (row-major), computed in S.
// Selection: the k largest logits, in descending order; among equal logits the lower expert index
// wins (so it comes first); a NaN logit ranks below every number, -inf included.
template <class S>
Routing select_experts(RouterMode mode, std::span<const S> logits, std::int64_t tokens, std::int64_t experts,
                       std::int64_t topk);

// The router of the layer: logits in S = float (Precision::F32) or double (F64), then select_experts.
// `hidden` is [T, H] of any float dtype; weights.router_* must be present (validate first).
Routing route(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden, Precision precision);

// A routing handed in: ids I32/I64 [T, k], weights of a float dtype [T, k]. Throws InputError
// naming `source` when the shapes disagree with each other, with `tokens`, or with `topk`
// (0 = any k), or when an id is outside [0, experts) (experts 0 = any non-negative id).
Routing routing_from_tensors(const Tensor& ids, const Tensor& weights, std::int64_t tokens, std::int64_t topk,
                             std::int64_t experts, std::string_view source);

// topk_ids I32 [T, k] and topk_weights F32 [T, k], the names `--topk-from` reads back.
NamedTensors routing_tensors(const Routing& r);

inline constexpr std::string_view kTopkIdsName = "topk_ids";
inline constexpr std::string_view kTopkWeightsName = "topk_weights";

}  // namespace mxg::ref
