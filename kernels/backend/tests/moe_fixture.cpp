// Canonical random MoE layers and the fp64 scalar expectation (see moe_fixture.hpp).
#include "kernels/backend/tests/moe_fixture.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/format/mxfp4.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::testing {
namespace {

float bf16_round(float v) { return bf16_to_f32(f32_to_bf16(v)); }

// Element k of a packed row with its block scales, decoded from first principles.
double dequant(const std::uint8_t* row, const std::uint8_t* scales, std::int64_t k) {
  const std::uint8_t byte = row[k / 2];
  const std::uint8_t code = (k % 2 == 0) ? (byte & 0xF) : (byte >> 4);
  return static_cast<double>(mxfp4::e2m1_decode(code)) * std::ldexp(1.0, static_cast<int>(scales[k / 32]) - 127);
}

}  // namespace

CanonicalMoe make_canonical(const MoeShape& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255), scale(121, 125);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  CanonicalMoe m;
  m.shape = s;
  const auto E = s.experts, H = s.hidden, I = s.units, T = s.tokens, k = s.topk;
  auto fill_bytes = [&](std::vector<std::uint8_t>& v, std::int64_t n, std::uniform_int_distribution<int>& d) {
    v.resize(static_cast<std::size_t>(n));
    for (auto& b : v) b = static_cast<std::uint8_t>(d(rng));
  };
  auto fill_normal = [&](std::vector<float>& v, std::int64_t n, float sigma) {
    v.resize(static_cast<std::size_t>(n));
    for (auto& x : v) x = bf16_round(sigma * normal(rng));
  };
  fill_bytes(m.w13, E * 2 * I * H / 2, byte);
  fill_bytes(m.w13_scale, E * 2 * I * H / 32, scale);
  fill_normal(m.w13_bias, E * 2 * I, 1.0f);
  fill_bytes(m.w2, E * H * I / 2, byte);
  fill_bytes(m.w2_scale, E * H * I / 32, scale);
  fill_normal(m.w2_bias, E * H, 0.5f);
  fill_normal(m.hidden, T * H, 1.0f);

  std::vector<std::int32_t> experts(static_cast<std::size_t>(E));
  std::iota(experts.begin(), experts.end(), 0);
  for (std::int64_t t = 0; t < T; ++t) {
    std::shuffle(experts.begin(), experts.end(), rng);
    std::vector<float> logits(static_cast<std::size_t>(k));
    for (auto& l : logits) l = normal(rng);
    const float top = *std::max_element(logits.begin(), logits.end());
    float sum = 0;
    for (auto& l : logits) sum += (l = std::exp(l - top));
    for (std::int64_t j = 0; j < k; ++j) {
      m.topk_ids.push_back(experts[static_cast<std::size_t>(j)]);
      m.topk_weights.push_back(logits[static_cast<std::size_t>(j)] / sum);
    }
  }
  return m;
}

std::vector<double> expected_output(const CanonicalMoe& m, std::int64_t units_used, double limit, double alpha) {
  return expected_output(m, Expectation{0, units_used, true, limit, alpha});
}

std::vector<double> expected_output(const CanonicalMoe& m, const Expectation& what) {
  const double limit = what.swiglu_limit, alpha = what.alpha;
  const auto& s = m.shape;
  const auto H = s.hidden, I = s.units;
  std::vector<double> y(static_cast<std::size_t>(s.tokens * H), 0.0);
  std::vector<double> act(static_cast<std::size_t>(I));
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    const float* x = &m.hidden[static_cast<std::size_t>(t * H)];
    for (std::int64_t slot = 0; slot < s.topk; ++slot) {
      const auto e = m.topk_ids[static_cast<std::size_t>(t * s.topk + slot)];
      const double weight = m.topk_weights[static_cast<std::size_t>(t * s.topk + slot)];
      for (std::int64_t u = 0; u < I; ++u) {
        double h[2];
        for (int half = 0; half < 2; ++half) {
          const std::int64_t row = e * 2 * I + 2 * u + half;  // checkpoint: gate 2u, up 2u+1
          double acc = m.w13_bias[static_cast<std::size_t>(row)];
          for (std::int64_t kk = 0; kk < H; ++kk) {
            acc += dequant(&m.w13[static_cast<std::size_t>(row * H / 2)], &m.w13_scale[static_cast<std::size_t>(row * H / 32)],
                           kk) *
                   x[kk];
          }
          h[half] = acc;
        }
        const double gate = std::min(h[0], limit);
        const double up = std::clamp(h[1], -limit, limit);
        const bool used = u >= what.unit_begin && u < what.unit_end;
        act[static_cast<std::size_t>(u)] = used ? (up + 1.0) * gate / (1.0 + std::exp(-alpha * gate)) : 0.0;
      }
      for (std::int64_t o = 0; o < H; ++o) {
        const std::int64_t row = e * H + o;
        double acc = what.down_bias ? m.w2_bias[static_cast<std::size_t>(row)] : 0.0;
        for (std::int64_t u = 0; u < I; ++u) {
          acc += dequant(&m.w2[static_cast<std::size_t>(row * I / 2)], &m.w2_scale[static_cast<std::size_t>(row * I / 32)], u) *
                 act[static_cast<std::size_t>(u)];
        }
        y[static_cast<std::size_t>(t * H + o)] += weight * acc;
      }
    }
  }
  return y;
}

double nmse(const std::vector<double>& y, const std::vector<double>& r) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    num += (y[i] - r[i]) * (y[i] - r[i]);
    den += r[i] * r[i];
  }
  return num / den;
}

}  // namespace mxg::testing
