// Router logits, top-k selection with documented tie-breaking, routing weights, and routings read
// from tensors.
#include "reference/routing.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <Eigen/Core>
#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reference/scalar_convert.hpp"

namespace mxg::ref {

namespace {

// Strict "a ranks above b" for logits a (expert ia) and b (expert ib): larger value first, NaN
// below everything, equal values to the lower index. A total order, so selection is deterministic.
template <class S>
bool ranks_above(S a, std::int64_t ia, S b, std::int64_t ib) {
  const bool a_nan = std::isnan(a), b_nan = std::isnan(b);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a != b) return a > b;
  return ia < ib;
}

// Softmax of `values` in place, stabilised by the maximum; NaN in gives NaN out.
template <class S>
void softmax_in_place(std::span<S> values) {
  S max_value = -std::numeric_limits<S>::infinity();
  for (S v : values) max_value = std::isnan(v) || v > max_value ? v : max_value;
  S sum = 0;
  for (S& v : values) {
    v = std::exp(v - max_value);
    sum += v;
  }
  for (S& v : values) v /= sum;
}

}  // namespace

template <class S>
Routing select_experts(RouterMode mode, std::span<const S> logits, std::int64_t tokens, std::int64_t experts,
                       std::int64_t topk) {
  Routing r;
  r.tokens = tokens;
  r.topk = topk;
  r.ids.resize(static_cast<std::size_t>(tokens * topk));
  r.weights.resize(r.ids.size());
  std::vector<S> probabilities(static_cast<std::size_t>(experts));
  std::vector<char> taken(static_cast<std::size_t>(experts));
  std::vector<S> chosen(static_cast<std::size_t>(topk));
  for (std::int64_t t = 0; t < tokens; ++t) {
    const S* row = logits.data() + t * experts;
    // k passes of a linear scan: k and E are small (4 of 128), and the order stays explicit.
    std::fill(taken.begin(), taken.end(), 0);
    for (std::int64_t j = 0; j < topk; ++j) {
      std::int64_t best = -1;
      for (std::int64_t e = 0; e < experts; ++e) {
        if (taken[e]) continue;
        if (best < 0 || ranks_above(row[e], e, row[best], best)) best = e;
      }
      taken[best] = 1;
      r.ids[t * topk + j] = static_cast<std::int32_t>(best);
    }
    if (mode == RouterMode::TopkSoftmax) {
      for (std::int64_t j = 0; j < topk; ++j) chosen[j] = row[r.ids[t * topk + j]];
      softmax_in_place<S>(chosen);
    } else {
      std::copy(row, row + experts, probabilities.begin());
      softmax_in_place<S>(probabilities);
      S kept = 0;
      for (std::int64_t j = 0; j < topk; ++j) {
        chosen[j] = probabilities[r.ids[t * topk + j]];
        kept += chosen[j];
      }
      if (mode == RouterMode::SoftmaxTopkRenorm) {
        for (S& v : chosen) v /= kept;
      }
    }
    for (std::int64_t j = 0; j < topk; ++j) r.weights[t * topk + j] = static_cast<double>(chosen[j]);
  }
  return r;
}

template Routing select_experts<float>(RouterMode, std::span<const float>, std::int64_t, std::int64_t, std::int64_t);
template Routing select_experts<double>(RouterMode, std::span<const double>, std::int64_t, std::int64_t,
                                        std::int64_t);

namespace {

template <class S>
Routing route_in(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden) {
  using RowMat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::int64_t T = hidden.dim(0), H = c.hidden, E = c.experts;
  const std::vector<S> x = to_scalars<S>(hidden);
  const std::vector<S> wr = to_scalars<S>(w.router_weight);
  const std::vector<S> br = to_scalars<S>(w.router_bias);
  Eigen::Map<const RowMat> X(x.data(), T, H);
  Eigen::Map<const RowMat> Wr(wr.data(), E, H);
  RowMat logits = X * Wr.transpose();
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t e = 0; e < E; ++e) logits(t, e) += br[static_cast<std::size_t>(e)];
  }
  return select_experts<S>(c.router, std::span<const S>(logits.data(), static_cast<std::size_t>(T * E)), T, E,
                           c.topk);
}

}  // namespace

Routing route(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden, Precision precision) {
  return precision == Precision::F64 ? route_in<double>(c, w, hidden) : route_in<float>(c, w, hidden);
}

Routing routing_from_tensors(const Tensor& ids, const Tensor& weights, std::int64_t tokens, std::int64_t topk,
                             std::int64_t experts, std::string_view source) {
  if (ids.dtype() != DType::I32 && ids.dtype() != DType::I64) {
    throw InputError(fmt::format("{}: tensor '{}': dtype {} is not supported (expected I32 or I64)", source,
                                 kTopkIdsName, dtype_name(ids.dtype())));
  }
  const DType wt = weights.dtype();
  if (wt != DType::F32 && wt != DType::F64 && wt != DType::BF16 && wt != DType::F16) {
    throw InputError(fmt::format("{}: tensor '{}': dtype {} is not supported (expected F32, F64, BF16 or F16)",
                                 source, kTopkWeightsName, dtype_name(wt)));
  }
  if (topk == 0 && ids.rank() == 2) topk = ids.dim(1);
  auto check_shape = [&](const Tensor& t, std::string_view name) {
    if (t.rank() != 2) {
      throw InputError(fmt::format("{}: tensor '{}': shape {} has rank {}, expected 2 [tokens, num_experts_per_tok]",
                                   source, name, shape_string(t.shape()), t.rank()));
    }
    if (t.dim(0) != tokens) {
      throw InputError(fmt::format("{}: tensor '{}': shape {}: dimension 0 is {}, expected tokens = {}", source, name,
                                   shape_string(t.shape()), t.dim(0), tokens));
    }
    if (t.dim(1) != topk) {
      throw InputError(fmt::format("{}: tensor '{}': shape {}: dimension 1 is {}, expected num_experts_per_tok = {}",
                                   source, name, shape_string(t.shape()), t.dim(1), topk));
    }
  };
  check_shape(ids, kTopkIdsName);
  check_shape(weights, kTopkWeightsName);
  Routing r;
  r.tokens = tokens;
  r.topk = topk;
  r.ids.resize(static_cast<std::size_t>(ids.numel()));
  const double limit = experts > 0 ? static_cast<double>(experts) : static_cast<double>(std::numeric_limits<std::int32_t>::max()) + 1.0;
  for (std::int64_t i = 0; i < ids.numel(); ++i) {
    const double id = ids.value_at(i);
    if (!(id >= 0 && id < limit)) {
      throw InputError(fmt::format("{}: tensor '{}': element [{}, {}] is expert {}, outside [0, {})", source,
                                   kTopkIdsName, i / topk, i % topk, static_cast<std::int64_t>(id),
                                   static_cast<std::int64_t>(limit)));
    }
    r.ids[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(id);
  }
  r.weights = to_scalars<double>(weights);
  return r;
}

NamedTensors routing_tensors(const Routing& r) {
  Tensor ids(DType::I32, {r.tokens, r.topk});
  if (!r.ids.empty()) std::memcpy(ids.mutable_bytes().data(), r.ids.data(), r.ids.size() * sizeof(std::int32_t));
  std::vector<float> w(r.weights.begin(), r.weights.end());
  NamedTensors out;
  out.emplace_back(std::string(kTopkIdsName), std::move(ids));
  out.emplace_back(std::string(kTopkWeightsName), Tensor::from_f32(w, {r.tokens, r.topk}));
  return out;
}

}  // namespace mxg::ref
