// The synthetic layer and its independent observed outputs (see synthetic_layer.hpp).
#include "harness/diagnose/output/tests/synthetic_layer.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/matrix/canonical_inputs.hpp"
#include "harness/matrix/case_spec.hpp"
#include "harness/matrix/device_prep.hpp"
#include "harness/matrix/scenarios.hpp"
#include "kernels/backend/fused_moe.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "reference/checkpoint.hpp"

namespace mxg::diagnose::testing {

namespace {

float bf16_exact(double v) { return bf16_to_f32(f32_to_bf16(static_cast<float>(v))); }

Tensor random_bytes(Shape shape, std::mt19937_64& rng) {
  Tensor t(DType::U8, std::move(shape));
  for (auto& b : t.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(rng() & 0xFF);
  return t;
}

// E8M0 bytes around 2^(base - 127), jittered by +-1, so dot products over k inputs stay O(1).
Tensor scale_bytes(Shape shape, int base, std::mt19937_64& rng) {
  Tensor t(DType::U8, std::move(shape));
  for (auto& b : t.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(base + static_cast<int>(rng() % 3) - 1);
  return t;
}

Tensor normal_bf16(Shape shape, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0.0, sigma);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& x : v) x = bf16_exact(n(rng));
  return Tensor::from_f32(v, shape, DType::BF16);
}

// E2M1 values have RMS ~3.4; a scale of 2^-s with 2^s ~ 3.4 * sqrt(k) keeps outputs near 1.
int scale_base(std::int64_t k) {
  return 127 - static_cast<int>(std::lround(std::log2(3.4 * std::sqrt(static_cast<double>(k)))));
}

// The loader's zero padding, by this file's own rule: every 0xFF scale byte and NaN float the
// matrix poisoned becomes zero.
void zero_poison(FusedMoeProblem& p) {
  for (Tensor* t : {&p.w13_scale, &p.w2_scale}) {
    for (auto& b : t->as_mut<std::uint8_t>()) b = b == 0xFF ? 0 : b;
  }
  for (Tensor* t : {&p.w13_bias, &p.w2_bias}) {
    for (float& v : t->as_mut<float>()) v = std::isnan(v) ? 0.0f : v;
  }
  for (auto& v : p.hidden.as_mut<std::uint16_t>()) v = std::isnan(bf16_to_f32(v)) ? std::uint16_t{0} : v;
}

}  // namespace

SyntheticLayer make_synthetic_layer(std::int64_t H, std::int64_t I, std::int64_t E, std::int64_t k, std::int64_t T,
                                    std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  SyntheticLayer l;
  l.config.hidden = H;
  l.config.intermediate = I;
  l.config.experts = E;
  l.config.topk = k;
  ref::MoeWeights& w = l.weights;
  w.w13_blocks = random_bytes({E, 2 * I, H / 32, 16}, rng);
  w.w13_scales = scale_bytes({E, 2 * I, H / 32}, scale_base(H), rng);
  w.w13_bias = normal_bf16({E, 2 * I}, 0.5, rng);
  w.w2_blocks = random_bytes({E, H, I / 32, 16}, rng);
  w.w2_scales = scale_bytes({E, H, I / 32}, scale_base(I), rng);
  w.w2_bias = normal_bf16({E, H}, 0.5, rng);
  w.router_weight = normal_bf16({E, H}, 1.0 / std::sqrt(static_cast<double>(H)), rng);
  w.router_bias = normal_bf16({E}, 0.1, rng);
  l.hidden = normal_bf16({T, H}, 1.0, rng);
  l.hidden = Tensor::from_f32(l.hidden.to_f32(), {T, H});
  l.routing = ref::route(l.config, w, l.hidden, ref::Precision::F32);
  return l;
}

void write_checkpoint(const SyntheticLayer& l, std::int64_t n, const std::filesystem::path& file) {
  const ref::MoeWeights& w = l.weights;
  write_safetensors(file, {{ref::expert_tensor_name(n, "gate_up_proj_blocks"), w.w13_blocks},
                           {ref::expert_tensor_name(n, "gate_up_proj_scales"), w.w13_scales},
                           {ref::expert_tensor_name(n, "gate_up_proj_bias"), w.w13_bias},
                           {ref::expert_tensor_name(n, "down_proj_blocks"), w.w2_blocks},
                           {ref::expert_tensor_name(n, "down_proj_scales"), w.w2_scales},
                           {ref::expert_tensor_name(n, "down_proj_bias"), w.w2_bias},
                           {ref::router_tensor_name(n, "weight"), w.router_weight},
                           {ref::router_tensor_name(n, "bias"), w.router_bias}});
}

Tensor observed_output(const SyntheticLayer& l, const matrix::Combination& combo, std::int64_t tp,
                       std::optional<std::int64_t> rank) {
  const std::int64_t H = l.config.hidden, T = l.hidden.dim(0), k = l.config.topk;
  // Every expert materialised, topk ids are the model's expert numbers: no compaction here.
  matrix::CanonicalInputs in;
  for (std::int64_t e = 0; e < l.config.experts; ++e) in.expert_ids.push_back(e);
  in.gate_up_blocks = l.weights.w13_blocks;
  in.gate_up_scales = l.weights.w13_scales;
  in.gate_up_bias = Tensor::from_f32(l.weights.w13_bias.to_f32(), l.weights.w13_bias.shape());
  in.down_blocks = l.weights.w2_blocks;
  in.down_scales = l.weights.w2_scales;
  in.down_bias = Tensor::from_f32(l.weights.w2_bias.to_f32(), l.weights.w2_bias.shape());
  in.hidden = l.hidden;
  in.topk_ids = Tensor(DType::I32, {T, k});
  in.topk_weights = Tensor(DType::F32, {T, k});
  for (std::size_t i = 0; i < l.routing.ids.size(); ++i) {
    in.topk_ids.as_mut<std::int32_t>()[i] = l.routing.ids[i];
    in.topk_weights.as_mut<float>()[i] = static_cast<float>(l.routing.weights[i]);
  }
  auto host = make_backend("host", {.threads = 1});
  std::vector<float> sum(static_cast<std::size_t>(T * H), 0.0f);
  for (std::int64_t r = 0; r < tp; ++r) {
    if (rank && *rank != r) continue;
    matrix::ShapeSpec shape;
    shape.name = fmt::format("synthetic-tp{}-r{}", tp, r);
    shape.model = "custom";
    shape.hidden = H;
    shape.intermediate = l.config.intermediate;
    shape.experts = l.config.experts;
    shape.topk = k;
    shape.tp = static_cast<int>(tp);
    shape.rank = static_cast<int>(r);
    FusedMoeProblem p = matrix::prepare_problem(matrix::slice_rank(in, shape), combo, shape);
    zero_poison(p);
    const std::vector<float> y = host->run(p).to_f32();
    for (std::size_t i = 0; i < y.size(); ++i) sum[i] += y[i];
  }
  return Tensor::from_f32(sum, {T, H});
}

matrix::Combination scenario_combination(const std::string& name) {
  for (const auto& s : matrix::load_scenarios(MXG_TEST_SCENARIOS)) {
    if (s.name != name) continue;
    std::map<std::string, std::vector<std::string>> allowed;
    for (const auto& [dim, value] : s.match) allowed[dim] = {value};
    const auto combos = matrix::expand_combinations(allowed);
    if (combos.size() != 1) throw std::logic_error(fmt::format("scenario {} matches {} combinations", name, combos.size()));
    return combos.front();
  }
  throw std::logic_error("no scenario " + name);
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  // The AITER family's scenarios: diagnose output explains AITER-layout outputs.
  for (const auto& s : matrix::load_scenarios(MXG_TEST_SCENARIOS))
    if (s.family == "aiter") names.push_back(s.name);
  return names;
}

Tensor with_noise(const Tensor& y, double nmse, std::uint64_t seed) {
  std::vector<float> v = y.to_f32();
  double power = 0;
  for (float x : v) power += static_cast<double>(x) * x;
  const double sigma = std::sqrt(nmse * power / static_cast<double>(v.size()));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0.0, sigma);
  for (float& x : v) x = static_cast<float>(x + n(rng));
  return Tensor::from_f32(v, y.shape());
}

}  // namespace mxg::diagnose::testing
