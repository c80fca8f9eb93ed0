// The tests' independent fp64 MoE layer: one token and one expert at a time, every weight
// decoded on the spot from its nibble and scale byte.
#include "reference/tests/scalar_oracle.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/format/mxfp4.hpp"

namespace mxg::ref::testing {

double oracle_scale(std::uint8_t s) {
  if (s == 255) return std::numeric_limits<double>::quiet_NaN();
  return std::ldexp(1.0, static_cast<int>(s) - 127);
}

double oracle_weight(const std::uint8_t* row_bytes, const std::uint8_t* row_scales, std::int64_t k) {
  const std::uint8_t byte = row_bytes[k / 2];
  const int code = (k % 2 == 0) ? (byte & 0x0F) : (byte >> 4);  // even element: low nibble
  return static_cast<double>(mxfp4::kE2M1Values[code]) * oracle_scale(row_scales[k / 32]);
}

namespace {

// Row `row` of expert e of a packed [E, rows, K] matrix, applied to x (length K).
double packed_dot(const std::vector<std::uint8_t>& blocks, const std::vector<std::uint8_t>& scales, std::int64_t e,
                  std::int64_t rows, std::int64_t row, std::int64_t K, const double* x) {
  const std::uint8_t* b = blocks.data() + (e * rows + row) * (K / 2);
  const std::uint8_t* s = scales.data() + (e * rows + row) * (K / 32);
  double acc = 0;
  for (std::int64_t k = 0; k < K; ++k) acc += oracle_weight(b, s, k) * x[k];
  return acc;
}

double logistic(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

OracleRouting oracle_route(const RawLayer& l, const std::vector<double>& hidden, std::int64_t T) {
  const MoeConfig& c = l.config;
  const std::int64_t E = c.experts, H = c.hidden, k = c.topk;
  OracleRouting r;
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<double> logits(static_cast<std::size_t>(E));
    for (std::int64_t e = 0; e < E; ++e) {
      double acc = l.router_bias[e];
      for (std::int64_t h = 0; h < H; ++h) acc += l.router_weight[e * H + h] * hidden[t * H + h];
      logits[e] = acc;
    }
    std::vector<int> order(static_cast<std::size_t>(E));
    std::iota(order.begin(), order.end(), 0);
    // Stable sort by descending logit keeps lower indices first among equals.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    std::vector<double> w(static_cast<std::size_t>(k));
    if (c.router == RouterMode::TopkSoftmax) {
      double denominator = 0;
      for (std::int64_t j = 0; j < k; ++j) denominator += std::exp(logits[order[j]] - logits[order[0]]);
      for (std::int64_t j = 0; j < k; ++j) w[j] = std::exp(logits[order[j]] - logits[order[0]]) / denominator;
    } else {
      double all = 0;
      for (std::int64_t e = 0; e < E; ++e) all += std::exp(logits[e] - logits[order[0]]);
      double kept = 0;
      for (std::int64_t j = 0; j < k; ++j) {
        w[j] = std::exp(logits[order[j]] - logits[order[0]]) / all;
        kept += w[j];
      }
      if (c.router == RouterMode::SoftmaxTopkRenorm) {
        for (double& v : w) v /= kept;
      }
    }
    for (std::int64_t j = 0; j < k; ++j) {
      r.ids.push_back(order[j]);
      r.weights.push_back(w[j]);
    }
  }
  return r;
}

std::vector<double> oracle_moe(const RawLayer& l, const std::vector<double>& hidden, std::int64_t T,
                               const OracleRouting& routing) {
  const MoeConfig& c = l.config;
  const std::int64_t H = c.hidden, I = c.intermediate, k = c.topk;
  std::vector<double> y(static_cast<std::size_t>(T * H), 0.0);
  std::vector<double> a(static_cast<std::size_t>(I));
  for (std::int64_t t = 0; t < T; ++t) {
    const double* x = hidden.data() + t * H;
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t e = routing.ids[t * k + j];
      const double weight = routing.weights[t * k + j];
      for (std::int64_t u = 0; u < I; ++u) {
        // Checkpoint rows: 2u is gate unit u, 2u + 1 is up unit u.
        double gate = packed_dot(l.w13_blocks, l.w13_scales, e, 2 * I, 2 * u, H, x) + l.w13_bias[e * 2 * I + 2 * u];
        double up = packed_dot(l.w13_blocks, l.w13_scales, e, 2 * I, 2 * u + 1, H, x) + l.w13_bias[e * 2 * I + 2 * u + 1];
        if (c.activation == Activation::Silu) {
          a[u] = gate * logistic(gate) * up;
        } else {
          if (gate > c.swiglu_limit) gate = c.swiglu_limit;
          if (up > c.swiglu_limit) up = c.swiglu_limit;
          if (up < -c.swiglu_limit) up = -c.swiglu_limit;
          a[u] = (up + 1.0) * gate * logistic(c.alpha * gate);
        }
      }
      for (std::int64_t h = 0; h < H; ++h) {
        const double o = packed_dot(l.w2_blocks, l.w2_scales, e, H, h, I, a.data()) + l.w2_bias[e * H + h];
        y[t * H + h] += weight * o;
      }
    }
  }
  return y;
}

}  // namespace mxg::ref::testing
