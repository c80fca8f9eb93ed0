// random_ggml_problem: generation and packing for the ggml kernel tests. Written from the
// block_mxfp4 definition (ggml_experts.hpp), sharing no code with ggml or the layout transforms.
#include "kernels/ggml/tests/random_ggml_problem.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace mxg::ggml_family::testing {
namespace {

// Scale byte 127 + X with X = -round(log2(sqrt(K · E[v²]))), E[v²] = 137/16 over uniform E2M1
// codes: a row's dot product with unit-variance inputs then has a standard deviation near 1.
int base_scale_byte(std::int64_t k) {
  const double x = -std::round(std::log2(std::sqrt(static_cast<double>(k) * 137.0 / 16.0)));
  return 127 + static_cast<int>(x);
}

// U8 [E, rows, K/32*17] of random codes and jittered scales (base -1, 0, 0 or +1).
Tensor random_weight(std::mt19937_64& rng, std::int64_t experts, std::int64_t rows, std::int64_t k) {
  std::uniform_int_distribution<int> code(0, 15), jitter(0, 3);
  const std::int64_t n = experts * rows;
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(n * k));
  std::vector<std::uint8_t> scales(static_cast<std::size_t>(n * k / kBlockElems));
  for (auto& c : codes) c = static_cast<std::uint8_t>(code(rng));
  const int base = base_scale_byte(k);
  for (auto& s : scales) {
    const int j = jitter(rng);
    s = static_cast<std::uint8_t>(base + (j == 0 ? -1 : j == 3 ? 1 : 0));
  }
  Tensor t(DType::U8, {experts, rows, k / kBlockElems * kBlockBytes});
  pack_block_mxfp4(codes.data(), scales.data(), n, k, t.as_mut<std::uint8_t>().data());
  return t;
}

Tensor random_normal(std::mt19937_64& rng, Shape shape, double stddev) {
  std::normal_distribution<float> normal(0.0f, static_cast<float>(stddev));
  Tensor t(DType::F32, std::move(shape));
  for (float& v : t.as_mut<float>()) v = normal(rng);
  return t;
}

// Rows [rows_per_expert * e, ...) of a [E, rows, ...] tensor, as bytes.
std::span<std::byte> expert_bytes(Tensor& t, std::int64_t expert) {
  const auto per = t.nbytes() / static_cast<std::size_t>(t.dim(0));
  return t.mutable_bytes().subspan(static_cast<std::size_t>(expert) * per, per);
}

}  // namespace

void pack_block_mxfp4(const std::uint8_t* codes, const std::uint8_t* scales, std::int64_t rows, std::int64_t k,
                      std::uint8_t* out) {
  const std::int64_t blocks = k / kBlockElems;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::uint8_t* c = codes + r * k + b * kBlockElems;
      std::uint8_t* block = out + (r * blocks + b) * kBlockBytes;
      block[0] = scales[r * blocks + b];
      for (int j = 0; j < 16; ++j) block[1 + j] = static_cast<std::uint8_t>((c[j] & 0xF) | ((c[j + 16] & 0xF) << 4));
    }
  }
}

GgmlMoeProblem random_problem(const RandomProblemSpec& s) {
  std::mt19937_64 rng(s.seed);
  GgmlMoeProblem p;
  p.experts.gate = random_weight(rng, s.experts, s.intermediate, s.hidden);
  p.experts.up = random_weight(rng, s.experts, s.intermediate, s.hidden);
  p.experts.down = random_weight(rng, s.experts, s.hidden, s.intermediate);
  p.experts.gate_bias = random_normal(rng, {s.experts, s.intermediate}, 0.5);
  p.experts.up_bias = random_normal(rng, {s.experts, s.intermediate}, 0.5);
  p.experts.down_bias = random_normal(rng, {s.experts, s.hidden}, 0.5);
  p.hidden = random_normal(rng, {s.tokens, s.hidden}, 1.0);

  // Distinct experts per token, weights a softmax over random logits (as GPT-OSS routes).
  p.topk_ids = Tensor(DType::I32, {s.tokens, s.topk});
  p.topk_weights = Tensor(DType::F32, {s.tokens, s.topk});
  auto ids = p.topk_ids.as_mut<std::int32_t>();
  auto weights = p.topk_weights.as_mut<float>();
  std::vector<std::int32_t> order(static_cast<std::size_t>(s.experts));
  std::normal_distribution<double> logit(0.0, 1.0);
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<double> e(static_cast<std::size_t>(s.topk));
    for (double& v : e) v = std::exp(logit(rng));
    const double sum = std::accumulate(e.begin(), e.end(), 0.0);
    for (std::int64_t j = 0; j < s.topk; ++j) {
      ids[static_cast<std::size_t>(t * s.topk + j)] = order[static_cast<std::size_t>(j)];
      weights[static_cast<std::size_t>(t * s.topk + j)] = static_cast<float>(e[static_cast<std::size_t>(j)] / sum);
    }
  }
  return p;
}

GgmlExperts merge_gate_up(const GgmlExperts& split) {
  GgmlExperts m;
  const std::int64_t E = split.gate.dim(0), I = split.gate.dim(1), row = split.gate.dim(2);
  m.gate_up = Tensor(DType::U8, {E, 2 * I, row});
  m.gate_up_bias = Tensor(DType::F32, {E, 2 * I});
  const auto gate = split.gate.as<std::uint8_t>(), up = split.up.as<std::uint8_t>();
  const auto gate_bias = split.gate_bias.as<float>(), up_bias = split.up_bias.as<float>();
  auto gu = m.gate_up.as_mut<std::uint8_t>();
  auto gu_bias = m.gate_up_bias.as_mut<float>();
  const auto w = static_cast<std::size_t>(I * row), b = static_cast<std::size_t>(I);
  for (std::size_t e = 0; e < static_cast<std::size_t>(E); ++e) {
    std::copy_n(gate.begin() + e * w, w, gu.begin() + 2 * e * w);
    std::copy_n(up.begin() + e * w, w, gu.begin() + (2 * e + 1) * w);
    std::copy_n(gate_bias.begin() + e * b, b, gu_bias.begin() + 2 * e * b);
    std::copy_n(up_bias.begin() + e * b, b, gu_bias.begin() + (2 * e + 1) * b);
  }
  m.down = split.down;
  m.down_bias = split.down_bias;
  return m;
}

void swap_gate_and_up(GgmlExperts& split, std::int64_t expert) {
  for (auto [a, b] : {std::pair{&split.gate, &split.up}, std::pair{&split.gate_bias, &split.up_bias}}) {
    auto from = expert_bytes(*a, expert);
    std::swap_ranges(from.begin(), from.end(), expert_bytes(*b, expert).begin());
  }
}

void swap_gate_nibbles(GgmlExperts& split, std::int64_t expert) {
  auto bytes = expert_bytes(split.gate, expert);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i % kBlockBytes == 0) continue;  // the scale byte
    const auto v = static_cast<std::uint8_t>(bytes[i]);
    bytes[i] = static_cast<std::byte>(static_cast<std::uint8_t>((v >> 4) | (v << 4)));
  }
}

void shift_down_scales(GgmlExperts& split, std::int64_t expert, int delta) {
  auto bytes = expert_bytes(split.down, expert);
  for (std::size_t i = 0; i < bytes.size(); i += kBlockBytes) {
    bytes[i] = static_cast<std::byte>(static_cast<std::uint8_t>(static_cast<int>(bytes[i]) + delta));
  }
}

}  // namespace mxg::ggml_family::testing
