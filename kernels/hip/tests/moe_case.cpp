// Seeded generation of the canonical test layer.
#include "kernels/hip/tests/moe_case.hpp"

#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "kernels/common/splitmix64.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::gpu::testing {
namespace {

// splitmix64: fast, seedable per expert, so experts are generated in parallel yet reproducibly.
struct SplitMix : SplitMix64 {
  void fill(std::uint8_t* out, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
      const std::uint64_t v = next();
      std::memcpy(out + i, &v, std::min<std::size_t>(8, n - i));
    }
  }
  // Scales 2^-8 .. 2^-5 keep pre-activations O(1..10): some gates reach the SwiGLU limit.
  std::uint8_t scale() { return static_cast<std::uint8_t>(119 + next() % 4); }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
};

template <class Body>
void per_expert(std::int64_t experts, Body body) {
  const unsigned n = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < n; ++w) {
    pool.emplace_back([&, w] {
      for (std::int64_t e = w; e < experts; e += n) body(e);
    });
  }
  for (auto& t : pool) t.join();
}

}  // namespace

CanonicalMoe make_case(const MoeCaseSpec& s) {
  CanonicalMoe c;
  c.spec = s;
  const std::int64_t E = s.experts, Hp = s.hidden_padded, Ip = s.intermediate_padded;
  const std::int64_t rows13 = 2 * Ip, kb13 = Hp / 2, cols13 = Hp / 32;
  const std::int64_t kb2 = Ip / 2, cols2 = Ip / 32;
  c.w13.assign(E * rows13 * kb13, 0);
  c.w13_scale.assign(E * rows13 * cols13, 0x7F);
  c.w13_bias.assign(E * rows13, 0.0f);
  c.w2.assign(E * Hp * kb2, 0);
  c.w2_scale.assign(E * Hp * cols2, 0x7F);
  c.w2_bias.assign(E * Hp, 0.0f);

  per_expert(E, [&](std::int64_t e) {
    SplitMix rng{s.seed * 1000003ull + std::uint64_t(e)};
    // w13: loaded units get random bytes in every column, the absent hidden columns included
    // (a kernel that reads them gets garbage); units past units_loaded stay zero like the loader's.
    for (std::int64_t r = 0; r < 2 * s.units_loaded; ++r) {
      rng.fill(&c.w13[(e * rows13 + r) * kb13], kb13);
      for (std::int64_t j = 0; j < cols13; ++j) c.w13_scale[(e * rows13 + r) * cols13 + j] = rng.scale();
      c.w13_bias[e * rows13 + r] = float(rng.uniform() - 0.5);
    }
    // w2: every hidden row (rows past H are never output), columns of loaded units.
    for (std::int64_t h = 0; h < Hp; ++h) {
      rng.fill(&c.w2[(e * Hp + h) * kb2], s.units_loaded / 2);
      for (std::int64_t j = 0; j < cols2; ++j) c.w2_scale[(e * Hp + h) * cols2 + j] = rng.scale();
      c.w2_bias[e * Hp + h] = float(rng.uniform() - 0.5);
    }
  });

  SplitMix rng{s.seed ^ 0xA5A5A5A5ull};
  c.hidden.assign(s.tokens * Hp, 0);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    for (std::int64_t k = 0; k < Hp; ++k) {
      // Box-Muller normal inputs; absent inputs are NaN so reading one poisons the output.
      const double u1 = std::max(rng.uniform(), 1e-300), u2 = rng.uniform();
      const float v = float(std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2));
      c.hidden[t * Hp + k] = k < s.hidden ? f32_to_bf16(v) : std::uint16_t(0x7FC0);
    }
  }

  c.topk_ids.assign(s.tokens * s.topk, 0);
  c.topk_weights.assign(s.tokens * s.topk, 0.0f);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    double sum = 0;
    for (std::int64_t j = 0; j < s.topk; ++j) {
      std::int32_t e = 0;
      bool fresh = false;
      while (!fresh) {
        e = (j == 0 && t < s.hot_tokens) ? 0 : std::int32_t(rng.next() % std::uint64_t(E - 1));
        fresh = true;
        for (std::int64_t i = 0; i < j; ++i) fresh = fresh && c.topk_ids[t * s.topk + i] != e;
      }
      c.topk_ids[t * s.topk + j] = e;
      const double w = 0.2 + rng.uniform();
      c.topk_weights[t * s.topk + j] = float(w);
      sum += w;
    }
    for (std::int64_t j = 0; j < s.topk; ++j) c.topk_weights[t * s.topk + j] = float(c.topk_weights[t * s.topk + j] / sum);
  }
  return c;
}

}  // namespace mxg::gpu::testing
