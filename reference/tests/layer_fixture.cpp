// Seeded small MoE layers for the reference tests.
#include "reference/tests/layer_fixture.hpp"

#include <cstring>
#include <random>

namespace mxg::ref::testing {

namespace {

std::vector<double> sixty_fourths(std::size_t n, int range, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> dist(-range * 64, range * 64);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng) / 64.0;
  return v;
}

std::vector<std::uint8_t> bytes(std::size_t n, int lo, int hi, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(dist(rng));
  return v;
}

}  // namespace

RawLayer random_layer(const MoeConfig& c, std::uint64_t seed, int scale_lo, int scale_hi) {
  std::mt19937_64 rng(seed);
  const auto E = static_cast<std::size_t>(c.experts), H = static_cast<std::size_t>(c.hidden),
             I = static_cast<std::size_t>(c.intermediate);
  RawLayer l;
  l.config = c;
  l.w13_blocks = bytes(E * 2 * I * H / 2, 0, 255, rng);
  l.w13_scales = bytes(E * 2 * I * H / 32, scale_lo, scale_hi, rng);
  l.w2_blocks = bytes(E * H * I / 2, 0, 255, rng);
  l.w2_scales = bytes(E * H * I / 32, scale_lo, scale_hi, rng);
  l.w13_bias = sixty_fourths(E * 2 * I, 1, rng);
  l.w2_bias = sixty_fourths(E * H, 1, rng);
  l.router_weight = sixty_fourths(E * H, 1, rng);
  l.router_bias = sixty_fourths(E, 2, rng);
  return l;
}

RawLayer blank_layer(const MoeConfig& c) {
  const auto E = static_cast<std::size_t>(c.experts), H = static_cast<std::size_t>(c.hidden),
             I = static_cast<std::size_t>(c.intermediate);
  RawLayer l;
  l.config = c;
  l.w13_blocks.assign(E * 2 * I * H / 2, 0);
  l.w13_scales.assign(E * 2 * I * H / 32, 127);
  l.w2_blocks.assign(E * H * I / 2, 0);
  l.w2_scales.assign(E * H * I / 32, 127);
  l.w13_bias.assign(E * 2 * I, 0.0);
  l.w2_bias.assign(E * H, 0.0);
  l.router_weight.assign(E * H, 0.0);
  l.router_bias.assign(E, 0.0);
  return l;
}

std::vector<double> random_hidden(std::int64_t tokens, std::int64_t hidden, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return sixty_fourths(static_cast<std::size_t>(tokens * hidden), 2, rng);
}

Tensor f32_tensor(const std::vector<double>& values, Shape shape) {
  const std::vector<float> f(values.begin(), values.end());
  return Tensor::from_f32(f, std::move(shape), DType::F32);
}

Tensor bf16_tensor(const std::vector<double>& values, Shape shape) {
  const std::vector<float> f(values.begin(), values.end());
  return Tensor::from_f32(f, std::move(shape), DType::BF16);
}

Tensor u8_tensor(const std::vector<std::uint8_t>& b, Shape shape) {
  Tensor t(DType::U8, std::move(shape));
  if (!b.empty()) std::memcpy(t.mutable_bytes().data(), b.data(), b.size());
  return t;
}

std::vector<double> tensor_values(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = t.value_at(static_cast<std::int64_t>(i));
  return v;
}

MoeWeights RawLayer::tensors(bool bias_f32) const {
  const std::int64_t E = config.experts, H = config.hidden, I = config.intermediate;
  auto floats = [&](const std::vector<double>& v, Shape s) { return bias_f32 ? f32_tensor(v, s) : bf16_tensor(v, s); };
  MoeWeights w;
  w.w13_blocks = u8_tensor(w13_blocks, {E, 2 * I, H / 32, 16});
  w.w13_scales = u8_tensor(w13_scales, {E, 2 * I, H / 32});
  w.w13_bias = floats(w13_bias, {E, 2 * I});
  w.w2_blocks = u8_tensor(w2_blocks, {E, H, I / 32, 16});
  w.w2_scales = u8_tensor(w2_scales, {E, H, I / 32});
  w.w2_bias = floats(w2_bias, {E, H});
  w.router_weight = floats(router_weight, {E, H});
  w.router_bias = floats(router_bias, {E});
  return w;
}

NamedTensors RawLayer::checkpoint_tensors(std::int64_t layer, bool bias_f32) const {
  MoeWeights w = tensors(bias_f32);
  const std::string experts = "model.layers." + std::to_string(layer) + ".mlp.experts.";
  const std::string router = "model.layers." + std::to_string(layer) + ".mlp.router.";
  return {{experts + "gate_up_proj_blocks", w.w13_blocks}, {experts + "gate_up_proj_scales", w.w13_scales},
          {experts + "gate_up_proj_bias", w.w13_bias},     {experts + "down_proj_blocks", w.w2_blocks},
          {experts + "down_proj_scales", w.w2_scales},     {experts + "down_proj_bias", w.w2_bias},
          {router + "weight", w.router_weight},            {router + "bias", w.router_bias}};
}

}  // namespace mxg::ref::testing
