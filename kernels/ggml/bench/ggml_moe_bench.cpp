// Google Benchmark of run_ggml_moe (graph build, weight placement, compute) on GPT-OSS-like
// shapes, with llama.cpp's weight placement (extra buffers: CPU_REPACK on AVX2) and without.
#include <benchmark/benchmark.h>

#include "kernels/ggml/ggml_moe.hpp"
#include "kernels/ggml/tests/random_ggml_problem.hpp"

namespace mxg::ggml_family {
namespace {

// Args: hidden = intermediate, experts, tokens, extra buffers (0/1), threads (0: every core).
// k = 4 as in GPT-OSS.
void BM_RunGgmlMoe(benchmark::State& state) {
  const std::int64_t width = state.range(0);
  const testing::RandomProblemSpec spec{.tokens = state.range(2), .hidden = width, .intermediate = width,
                                        .experts = state.range(1), .topk = 4, .seed = 1};
  const GgmlMoeProblem p = testing::random_problem(spec);
  const GgmlRunOptions options{.threads = static_cast<int>(state.range(4)), .extra_buffers = state.range(3) != 0};
  for (auto _ : state) benchmark::DoNotOptimize(run_ggml_moe(p, options));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(spec.tokens * state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RunGgmlMoe)
    ->ArgNames({"width", "experts", "tokens", "extra", "threads"})
    ->Args({512, 32, 4, 1, 1})
    ->Args({512, 32, 4, 1, 0})
    ->Args({512, 32, 4, 0, 0})
    ->Args({512, 32, 64, 1, 0})
    ->Args({512, 32, 64, 0, 0})
    ->Args({2880, 4, 4, 1, 1})
    ->Args({2880, 4, 4, 1, 0})
    ->Args({2880, 4, 4, 0, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mxg::ggml_family

BENCHMARK_MAIN();
