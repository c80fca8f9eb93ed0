// The reference MoE forward pass: tokens grouped per expert, blockwise dequantisation and Eigen
// GEMMs in two passes over (expert, row block) items, then the fixed-order weighted sum.
#include "reference/moe_forward.hpp"

#include <algorithm>
#include <cstring>

#include <Eigen/Core>
#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reference/activation.hpp"
#include "reference/dequantize.hpp"
#include "reference/scalar_convert.hpp"
#include "reference/worker_pool.hpp"

namespace mxg::ref {

namespace {

// (token, slot) pairs grouped by expert. Row r of the grouped matrices is pair pair_of_row[r];
// expert active[a] owns rows [begin[a], begin[a] + count[a]).
struct ExpertGroups {
  std::vector<std::int64_t> token_of_row;
  std::vector<std::int64_t> row_of_pair;  // pair t*k + j -> row
  std::vector<std::int32_t> active;       // experts with at least one pair, ascending
  std::vector<std::int64_t> begin, count;
};

ExpertGroups group_by_expert(const Routing& r, std::int64_t experts) {
  const std::int64_t pairs = r.tokens * r.topk;
  std::vector<std::int64_t> per_expert(static_cast<std::size_t>(experts), 0);
  for (std::int32_t e : r.ids) ++per_expert[static_cast<std::size_t>(e)];
  ExpertGroups g;
  std::vector<std::int64_t> next(static_cast<std::size_t>(experts), 0);
  std::int64_t offset = 0;
  for (std::int64_t e = 0; e < experts; ++e) {
    next[e] = offset;
    if (per_expert[e] > 0) {
      g.active.push_back(static_cast<std::int32_t>(e));
      g.begin.push_back(offset);
      g.count.push_back(per_expert[e]);
    }
    offset += per_expert[e];
  }
  g.token_of_row.resize(static_cast<std::size_t>(pairs));
  g.row_of_pair.resize(static_cast<std::size_t>(pairs));
  for (std::int64_t p = 0; p < pairs; ++p) {  // token-major, so rows of an expert are in (token, slot) order
    const std::int64_t row = next[r.ids[p]]++;
    g.row_of_pair[p] = row;
    g.token_of_row[row] = p / r.topk;
  }
  return g;
}

template <class S>
using RowMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class S>
struct WorkerScratch {
  std::vector<S> weights;  // one dequantised row block
  std::vector<S> product;  // the block's GEMM result for one expert
};

template <class S>
Tensor forward(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden, const Routing& routing,
               const ForwardOptions& options) {
  const std::int64_t T = hidden.dim(0), H = c.hidden, I = c.intermediate, I2 = 2 * I, k = c.topk;
  std::int64_t block_rows = options.block_rows > 0 ? options.block_rows : kDefaultBlockRows;
  block_rows += block_rows % 2;  // w13 blocks must keep gate/up row pairs together
  const int threads = resolve_thread_count(options.threads);

  const ExpertGroups groups = group_by_expert(routing, c.experts);
  const std::int64_t rows = T * k;
  const std::vector<S> x = to_scalars<S>(hidden);
  const std::vector<S> b13 = to_scalars<S>(w.w13_bias);
  const std::vector<S> b2 = to_scalars<S>(w.w2_bias);
  const auto* w13 = reinterpret_cast<const std::uint8_t*>(w.w13_blocks.bytes().data());
  const auto* s13 = reinterpret_cast<const std::uint8_t*>(w.w13_scales.bytes().data());
  const auto* w2 = reinterpret_cast<const std::uint8_t*>(w.w2_blocks.bytes().data());
  const auto* s2 = reinterpret_cast<const std::uint8_t*>(w.w2_scales.bytes().data());

  std::vector<S> gathered(static_cast<std::size_t>(rows * H));  // hidden row of each (token, slot), grouped
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy_n(x.data() + groups.token_of_row[r] * H, H, gathered.data() + r * H);
  }
  std::vector<S> activated(static_cast<std::size_t>(rows * I));  // A [rows, I]
  std::vector<S> expert_out(static_cast<std::size_t>(rows * H));  // O [rows, H]

  std::vector<WorkerScratch<S>> scratch(static_cast<std::size_t>(threads));
  const auto active = static_cast<std::int64_t>(groups.active.size());
  const S limit = static_cast<S>(c.swiglu_limit), alpha = static_cast<S>(c.alpha);

  // Pass 1: h = W13[e] x + b13[e] on a block of w13 rows, then the activation of its row pairs.
  const std::int64_t blocks13 = (I2 + block_rows - 1) / block_rows;
  for_each_item(active * blocks13, threads, [&](std::int64_t item, int worker) {
    const std::int64_t a = item / blocks13, r0 = (item % blocks13) * block_rows;
    const std::int64_t e = groups.active[a], first = groups.begin[a], n = groups.count[a];
    const std::int64_t nr = std::min(block_rows, I2 - r0);
    WorkerScratch<S>& s = scratch[worker];
    s.weights.resize(static_cast<std::size_t>(nr * H));
    s.product.resize(static_cast<std::size_t>(n * nr));
    dequantize_rows_to<S>(w13 + (e * I2 + r0) * (H / 2), s13 + (e * I2 + r0) * (H / 32), nr, H, s.weights.data());
    Eigen::Map<const RowMatrix<S>> xe(gathered.data() + first * H, n, H);
    Eigen::Map<const RowMatrix<S>> wb(s.weights.data(), nr, H);
    Eigen::Map<RowMatrix<S>> h(s.product.data(), n, nr);
    h.noalias() = xe * wb.transpose();
    const S* bias = b13.data() + e * I2 + r0;
    for (std::int64_t i = 0; i < n; ++i) {
      S* out = activated.data() + (first + i) * I + r0 / 2;
      for (std::int64_t p = 0; p < nr / 2; ++p) {
        out[p] = gated_activation<S>(c.activation, h(i, 2 * p) + bias[2 * p], h(i, 2 * p + 1) + bias[2 * p + 1],
                                     limit, alpha);
      }
    }
  });

  // Pass 2: o = W2[e] a + b2[e] on a block of hidden units, straight into each pair's output row.
  const std::int64_t blocks2 = (H + block_rows - 1) / block_rows;
  for_each_item(active * blocks2, threads, [&](std::int64_t item, int worker) {
    const std::int64_t a = item / blocks2, h0 = (item % blocks2) * block_rows;
    const std::int64_t e = groups.active[a], first = groups.begin[a], n = groups.count[a];
    const std::int64_t nh = std::min(block_rows, H - h0);
    WorkerScratch<S>& s = scratch[worker];
    s.weights.resize(static_cast<std::size_t>(nh * I));
    dequantize_rows_to<S>(w2 + (e * H + h0) * (I / 2), s2 + (e * H + h0) * (I / 32), nh, I, s.weights.data());
    Eigen::Map<const RowMatrix<S>> ae(activated.data() + first * I, n, I);
    Eigen::Map<const RowMatrix<S>> wb(s.weights.data(), nh, I);
    Eigen::Map<RowMatrix<S>, 0, Eigen::OuterStride<>> o(expert_out.data() + first * H + h0, n, nh,
                                                          Eigen::OuterStride<>(H));
    o.noalias() = ae * wb.transpose();
    const S* bias = b2.data() + e * H + h0;
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < nh; ++j) o(i, j) += bias[j];
    }
  });

  // y[t] = sum_j w[t, j] * O[(t, j)], slots in order; chunks of tokens are independent items.
  std::vector<S> y(static_cast<std::size_t>(T * H));
  constexpr std::int64_t kTokensPerItem = 16;
  for_each_item((T + kTokensPerItem - 1) / kTokensPerItem, threads, [&](std::int64_t item, int) {
    const std::int64_t t_end = std::min(T, (item + 1) * kTokensPerItem);
    for (std::int64_t t = item * kTokensPerItem; t < t_end; ++t) {
      S* yt = y.data() + t * H;
      for (std::int64_t j = 0; j < k; ++j) {
        const S weight = static_cast<S>(routing.weight(t, j));
        const S* ot = expert_out.data() + groups.row_of_pair[t * k + j] * H;
        if (j == 0) {
          for (std::int64_t h = 0; h < H; ++h) yt[h] = weight * ot[h];
        } else {
          for (std::int64_t h = 0; h < H; ++h) yt[h] += weight * ot[h];
        }
      }
    }
  });

  Tensor out(std::is_same_v<S, double> ? DType::F64 : DType::F32, {T, H});
  if (!y.empty()) std::memcpy(out.mutable_bytes().data(), y.data(), y.size() * sizeof(S));
  return out;
}

bool is_float(DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32 || t == DType::F64; }

}  // namespace

void validate_hidden(const Tensor& hidden, const MoeConfig& c, const std::string& label) {
  if (!is_float(hidden.dtype())) {
    throw InputError(fmt::format("{}: dtype {} is not supported (expected F32, BF16, F16 or F64)", label,
                                 dtype_name(hidden.dtype())));
  }
  if (hidden.rank() != 2) {
    throw InputError(fmt::format("{}: shape {} has rank {}, expected 2 [tokens, hidden_size={}]", label,
                                 shape_string(hidden.shape()), hidden.rank(), c.hidden));
  }
  if (hidden.dim(0) == 0) {
    throw InputError(fmt::format("{}: shape {}: dimension 0 (tokens) is 0, need at least one token", label,
                                 shape_string(hidden.shape())));
  }
  if (hidden.dim(1) != c.hidden) {
    throw InputError(fmt::format("{}: shape {}: dimension 1 is {}, expected hidden_size = {}", label,
                                 shape_string(hidden.shape()), hidden.dim(1), c.hidden));
  }
}

void validate_routing(const Routing& r, const MoeConfig& c, std::int64_t tokens, const std::string& label) {
  if (r.tokens != tokens || r.topk != c.topk) {
    throw InputError(fmt::format("{}: routing is [{}, {}], expected [tokens = {}, num_experts_per_tok = {}]", label,
                                 r.tokens, r.topk, tokens, c.topk));
  }
  const auto pairs = static_cast<std::size_t>(tokens * c.topk);
  if (r.ids.size() != pairs || r.weights.size() != pairs) {
    throw InputError(fmt::format("{}: routing holds {} ids and {} weights, expected {} each", label, r.ids.size(),
                                 r.weights.size(), pairs));
  }
  for (std::size_t i = 0; i < pairs; ++i) {
    if (r.ids[i] < 0 || r.ids[i] >= c.experts) {
      throw InputError(fmt::format("{}: topk_ids[{}, {}] is expert {}, outside [0, {})", label,
                                   i / static_cast<std::size_t>(c.topk), i % static_cast<std::size_t>(c.topk),
                                   r.ids[i], c.experts));
    }
  }
}

Tensor moe_forward(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden, const Routing& routing,
                   const ForwardOptions& options) {
  return options.precision == Precision::F64 ? forward<double>(c, w, hidden, routing, options)
                                             : forward<float>(c, w, hidden, routing, options);
}

ReferenceResult run_reference(const MoeConfig& c, const MoeWeights& w, const Tensor& hidden,
                              const std::optional<Routing>& given, const ForwardOptions& options,
                              const std::string& hidden_label) {
  validate_config(c, "config");
  validate_weights(c, w, !given.has_value());
  validate_hidden(hidden, c, hidden_label);
  ReferenceResult result;
  if (given) {
    validate_routing(*given, c, hidden.dim(0), "routing");
    result.routing = *given;
  } else {
    result.routing = route(c, w, hidden, options.precision);
  }
  result.y = moe_forward(c, w, hidden, result.routing, options);
  return result;
}

}  // namespace mxg::ref
