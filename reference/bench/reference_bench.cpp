// Google Benchmark of the reference on a GPT-OSS-120b MoE layer (H = I = 2880, E = 128, k = 4):
// decode and prefill token counts, one thread against all cores, f32 against the f64 gold run.
// Routing comes from the layer's router, so the number of experts dequantised grows with T as in
// serving. Reported counters: tokens/s and routed experts per run.
#include <benchmark/benchmark.h>

#include <set>

#include "reference/bench/synthetic_layer.hpp"
#include "reference/moe_forward.hpp"

namespace {

using namespace mxg;
using namespace mxg::ref;

const MoeWeights& layer() {
  static const MoeWeights w = bench::synthetic_weights(bench::gptoss120b_config(), 1);
  return w;
}

// Args: tokens, threads (0 = all cores), precision (0 = f32, 1 = f64).
void BM_Reference(benchmark::State& state) {
  const MoeConfig c = bench::gptoss120b_config();
  const std::int64_t tokens = state.range(0);
  const Tensor hidden = bench::synthetic_hidden(tokens, c.hidden, 2);
  ForwardOptions options;
  options.threads = static_cast<int>(state.range(1));
  options.precision = state.range(2) == 0 ? Precision::F32 : Precision::F64;
  // Route once outside the timed loop, so the loop times the expert work alone.
  const Routing routing = run_reference(c, layer(), hidden, std::nullopt, options).routing;
  std::set<std::int32_t> routed(routing.ids.begin(), routing.ids.end());
  for (auto _ : state) {
    Tensor y = moe_forward(c, layer(), hidden, routing, options);
    benchmark::DoNotOptimize(y.bytes().data());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["experts"] = static_cast<double>(routed.size());
}

}  // namespace

BENCHMARK(BM_Reference)
    ->ArgNames({"T", "threads", "f64"})
    ->Args({1, 1, 0})
    ->Args({1, 0, 0})
    ->Args({16, 0, 0})
    ->Args({128, 0, 0})
    ->Args({128, 0, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
