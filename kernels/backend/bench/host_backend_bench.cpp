// Host backend speed on GPT-OSS shapes (one TP rank), decode token counts. Random device bytes
// are a valid problem for every layout, so no preparation pipeline is timed.
#include <random>

#include <benchmark/benchmark.h>

#include "kernels/backend/fused_moe.hpp"

namespace {

struct Shape {
  std::int64_t experts, hidden_padded, hidden, intermediate_padded, units, topk, tokens;
};

mxg::Tensor random_bytes(mxg::Shape shape, std::mt19937_64& rng, int lo, int hi) {
  mxg::Tensor t(mxg::DType::U8, std::move(shape));
  std::uniform_int_distribution<int> d(lo, hi);
  for (auto& b : t.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(d(rng));
  return t;
}

mxg::FusedMoeProblem make_problem(const Shape& s, bool shuffled) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  mxg::FusedMoeProblem p;
  const std::int64_t rows13 = 2 * s.intermediate_padded;
  p.w13 = random_bytes({s.experts, rows13, s.hidden_padded / 2}, rng, 0, 255);
  p.w13_scale = random_bytes({s.experts * rows13, s.hidden_padded / 32}, rng, 121, 125);
  p.w2 = random_bytes({s.experts, s.hidden_padded, s.intermediate_padded / 2}, rng, 0, 255);
  p.w2_scale = random_bytes({s.experts * s.hidden_padded, s.intermediate_padded / 32}, rng, 121, 125);
  std::vector<float> v(static_cast<std::size_t>(s.experts * rows13));
  for (auto& x : v) x = normal(rng);
  p.w13_bias = mxg::Tensor::from_f32(v, {s.experts, rows13});
  v.resize(static_cast<std::size_t>(s.experts * s.hidden_padded));
  for (auto& x : v) x = normal(rng);
  p.w2_bias = mxg::Tensor::from_f32(v, {s.experts, s.hidden_padded});
  v.resize(static_cast<std::size_t>(s.tokens * s.hidden_padded));
  for (auto& x : v) x = normal(rng);
  p.hidden = mxg::Tensor::from_f32(v, {s.tokens, s.hidden_padded}, mxg::DType::BF16);
  mxg::Tensor ids(mxg::DType::I32, {s.tokens, s.topk});
  std::uniform_int_distribution<int> expert(0, static_cast<int>(s.experts) - 1);
  for (auto& id : ids.as_mut<std::int32_t>()) id = expert(rng);
  p.topk_ids = ids;
  p.topk_weights = mxg::Tensor::from_f32(std::vector<float>(static_cast<std::size_t>(s.tokens * s.topk), 0.25f),
                                         {s.tokens, s.topk});
  p.is_shuffled = shuffled;
  p.hidden_pad = s.hidden_padded - s.hidden;
  p.intermediate_pad = s.intermediate_padded - s.units;
  return p;
}

void BM_HostFusedMoe(benchmark::State& state, Shape shape) {
  shape.tokens = state.range(0);
  const auto problem = make_problem(shape, state.range(1) != 0);
  auto backend = mxg::make_backend("host");
  for (auto _ : state) benchmark::DoNotOptimize(backend->run(problem));
  state.SetLabel(backend->info().device);
}

// GPT-OSS-120b TP8: E = 128, H = 2880 -> 3072, I/tp = 360 -> 512 (intermediate_pad 152).
BENCHMARK_CAPTURE(BM_HostFusedMoe, gptoss120b_tp8, Shape{128, 3072, 2880, 512, 360, 4, 0})
    ->ArgsProduct({{1, 16, 256}, {0, 1}})
    ->Unit(benchmark::kMillisecond);
// GPT-OSS-20b TP1: E = 32, I = 2880 -> 3072 (intermediate_pad 192).
BENCHMARK_CAPTURE(BM_HostFusedMoe, gptoss20b_tp1, Shape{32, 3072, 2880, 3072, 2880, 4, 0})
    ->ArgsProduct({{16}, {1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
