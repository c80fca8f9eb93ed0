// Google Benchmark of the reference on a GPT-OSS-120b MoE layer (H = I = 2880, E = 128, k = 4),
// with the two yardsticks the reference is judged by measured in the same run:
//  - BM_EigenSgemmPeak: plain Eigen float GEMM (512 x 2880 x 2880) on every core at once, each
//    core its own product, as the reference's workers run; its GFLOP/s is the machine's peak.
//    Compare BM_Reference's GFLOP/s at T = 512 with it, and BM_DequantizeAllFirst's time with
//    BM_Reference's at T = 1.
//  - BM_DequantizeAllFirst: the naive reference at T = 1, dequantising every expert's w13 and w2
//    before the GEMVs (into one reused buffer per worker, so it fits in memory).
// Reference FLOPs per run count the routed work: T * k * (2 * 2I * H + 2 * H * I).
#include <benchmark/benchmark.h>

#include <Eigen/Dense>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "reference/bench/synthetic_layer.hpp"
#include "reference/dequantize.hpp"
#include "reference/moe_forward.hpp"

namespace {

using namespace mxg;
using namespace mxg::ref;

const MoeConfig kConfig = bench::gptoss120b_config();

const MoeWeights& layer() {
  static const MoeWeights w = bench::synthetic_weights(kConfig, 1);
  return w;
}

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

double routed_flops(std::int64_t tokens) {
  return static_cast<double>(tokens * kConfig.topk) * 6.0 * static_cast<double>(kConfig.hidden * kConfig.intermediate);
}

// Args: tokens, precision (0 = f32, 1 = f64 gold run), block_rows (0 = the default). All cores.
void BM_Reference(benchmark::State& state) {
  const std::int64_t tokens = state.range(0);
  const Tensor hidden = bench::synthetic_hidden(tokens, kConfig.hidden, 2);
  ForwardOptions options;
  options.precision = state.range(1) == 0 ? Precision::F32 : Precision::F64;
  options.block_rows = state.range(2);
  // Route once outside the timed loop, so the loop times the expert work alone.
  const Routing routing = run_reference(kConfig, layer(), hidden, std::nullopt, options).routing;
  for (auto _ : state) {
    Tensor y = moe_forward(kConfig, layer(), hidden, routing, options);
    benchmark::DoNotOptimize(y.bytes().data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(routed_flops(tokens) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["experts"] = static_cast<double>(std::set<std::int32_t>(routing.ids.begin(), routing.ids.end()).size());
}

// One float GEMM per core, all cores at once (each its own product, as the reference's workers
// run): the SGEMM rate this machine sustains. Threads are started inside the timed loop; their
// start-up is microseconds against a product of tens of milliseconds.
void BM_EigenSgemmPeak(benchmark::State& state) {
  const Eigen::Index m = 512, k = 2880, n = 2880;
  const int workers = cores();
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(m, k);
  const Eigen::MatrixXf b = Eigen::MatrixXf::Random(k, n);
  std::vector<Eigen::MatrixXf> c(static_cast<std::size_t>(workers), Eigen::MatrixXf(m, n));
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int t = 0; t < workers; ++t) {
      threads.emplace_back([&, t] { c[static_cast<std::size_t>(t)].noalias() = a * b; });
    }
    for (auto& t : threads) t.join();
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * k * n) * workers * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// The naive way at T = 1: dequantise all experts (w13 and w2), then the routed GEMVs.
void BM_DequantizeAllFirst(benchmark::State& state) {
  const MoeWeights& w = layer();
  const std::int64_t h = kConfig.hidden, i = kConfig.intermediate;
  const Tensor hidden = bench::synthetic_hidden(1, h, 2);
  const Routing routing = run_reference(kConfig, w, hidden, std::nullopt, {}).routing;
  const std::vector<float> x = hidden.to_f32();
  const auto* w13 = reinterpret_cast<const std::uint8_t*>(w.w13_blocks.bytes().data());
  const auto* s13 = reinterpret_cast<const std::uint8_t*>(w.w13_scales.bytes().data());
  const auto* w2 = reinterpret_cast<const std::uint8_t*>(w.w2_blocks.bytes().data());
  const auto* s2 = reinterpret_cast<const std::uint8_t*>(w.w2_scales.bytes().data());
  for (auto _ : state) {
    std::atomic<std::int64_t> next{0};
    std::vector<float> sink(static_cast<std::size_t>(kConfig.experts), 0.0f);
    auto worker = [&] {
      std::vector<float> w13f(static_cast<std::size_t>(2 * i * h)), w2f(static_cast<std::size_t>(h * i));
      for (std::int64_t e; (e = next.fetch_add(1)) < kConfig.experts;) {
        dequantize_rows_to(w13 + e * 2 * i * h / 2, s13 + e * 2 * i * h / 32, 2 * i, h, w13f.data());
        dequantize_rows_to(w2 + e * h * i / 2, s2 + e * h * i / 32, h, i, w2f.data());
        if (std::find(routing.ids.begin(), routing.ids.end(), e) == routing.ids.end()) continue;
        // The routed expert's GEMVs; the first I outputs stand in for the activation (its cost is
        // negligible next to the GEMVs, and only the time is measured here).
        const Eigen::Map<const Eigen::MatrixXf> m13(w13f.data(), h, 2 * i);  // column j = row j of w13
        const Eigen::Map<const Eigen::VectorXf> xv(x.data(), h);
        const Eigen::VectorXf a = (m13.transpose() * xv).head(i);
        const Eigen::Map<const Eigen::MatrixXf> m2(w2f.data(), i, h);
        sink[static_cast<std::size_t>(e)] = (m2.transpose() * a).sum();
      }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < cores(); ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    benchmark::DoNotOptimize(sink.data());
  }
}

}  // namespace

BENCHMARK(BM_EigenSgemmPeak)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Reference)->ArgNames({"T", "f64", "block_rows"})->Args({1, 0, 0})->Args({64, 0, 0})->Args({512, 0, 0})
    ->Args({512, 0, 16})->Args({512, 0, 32})->Args({512, 0, 128})->Args({512, 1, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DequantizeAllFirst)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
