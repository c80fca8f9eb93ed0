// Double-precision reference MoE layer over the checkpoint layout, expert by expert: each weight
// row is dequantised once and dotted with every token routed to the expert.
#include "kernels/hip/tests/moe_reference.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

#include "kernels/format/mxfp4.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::gpu::testing {
namespace {

// Elements [0, n) of one packed row and its scales, as doubles.
void dequant_row(const std::uint8_t* packed, const std::uint8_t* scales, std::int64_t n, std::vector<double>& out) {
  out.resize(n);
  for (std::int64_t k = 0; k < n; ++k) out[k] = mxfp4::dequant_element(packed, scales, k);
}

// Four independent partial sums: the reference is the slow part of these tests.
double dot(const double* a, const double* b, std::int64_t n) {
  double s[4] = {0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) s[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

std::vector<double> reference_moe(const CanonicalMoe& c, double limit, double alpha) {
  const MoeCaseSpec& s = c.spec;
  const std::int64_t E = s.experts, T = s.tokens, k = s.topk, H = s.hidden, Hp = s.hidden_padded;
  const std::int64_t Ip = s.intermediate_padded, units = s.units_present();
  const std::int64_t rows13 = 2 * Ip, kb13 = Hp / 2, cols13 = Hp / 32, kb2 = Ip / 2, cols2 = Ip / 32;

  std::vector<double> x(T * H);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t i = 0; i < H; ++i) x[t * H + i] = bf16_to_f32(c.hidden[t * Hp + i]);

  // Expert output of every pair (t*k + j), [P, H].
  std::vector<double> pair_out(T * k * H, 0.0);
  auto run_expert = [&](std::int64_t e) {
    std::vector<std::int64_t> pairs;
    for (std::int64_t p = 0; p < T * k; ++p)
      if (c.topk_ids[p] == e) pairs.push_back(p);
    if (pairs.empty()) return;
    const std::int64_t n = std::int64_t(pairs.size());
    std::vector<double> act(n * units), gate_row, up_row, w2_row;
    for (std::int64_t u = 0; u < units; ++u) {
      const std::int64_t g = e * rows13 + 2 * u, up = g + 1;
      dequant_row(&c.w13[g * kb13], &c.w13_scale[g * cols13], H, gate_row);
      dequant_row(&c.w13[up * kb13], &c.w13_scale[up * cols13], H, up_row);
      for (std::int64_t i = 0; i < n; ++i) {
        const double* xt = &x[(pairs[i] / k) * H];
        double gate = c.w13_bias[g] + dot(gate_row.data(), xt, H);
        double upv = c.w13_bias[up] + dot(up_row.data(), xt, H);
        gate = std::min(gate, limit);
        upv = std::clamp(upv, -limit, limit);
        act[i * units + u] = (upv + 1) * gate / (1 + std::exp(-alpha * gate));
      }
    }
    for (std::int64_t h = 0; h < H; ++h) {
      const std::int64_t r = e * Hp + h;
      dequant_row(&c.w2[r * kb2], &c.w2_scale[r * cols2], units, w2_row);
      for (std::int64_t i = 0; i < n; ++i) {
        pair_out[pairs[i] * H + h] = c.w2_bias[r] + dot(w2_row.data(), &act[i * units], units);
      }
    }
  };
  const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      for (std::int64_t e = w; e < E; e += workers) run_expert(e);
    });
  }
  for (auto& t : pool) t.join();

  std::vector<double> y(T * H, 0.0);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t j = 0; j < k; ++j)
      for (std::int64_t h = 0; h < H; ++h) y[t * H + h] += c.topk_weights[t * k + j] * pair_out[(t * k + j) * H + h];
  return y;
}

Agreement compare(const std::vector<std::uint16_t>& y_bf16, const std::vector<double>& reference) {
  Agreement a;
  double err2 = 0, ref2 = 0, max_abs = 0;
  for (std::size_t i = 0; i < y_bf16.size(); ++i) {
    const double y = bf16_to_f32(y_bf16[i]), r = reference[i];
    if (!std::isfinite(y)) {
      ++a.non_finite;
      continue;
    }
    err2 += (y - r) * (y - r);
    ref2 += r * r;
    max_abs = std::max(max_abs, std::abs(y - r));
  }
  const double rms = std::sqrt(ref2 / double(y_bf16.size()));
  a.nmse = ref2 > 0 ? err2 / ref2 : err2;
  a.max_rel = rms > 0 ? max_abs / rms : max_abs;
  return a;
}

}  // namespace mxg::gpu::testing
