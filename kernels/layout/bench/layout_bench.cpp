// Throughput of every weight layout transform on a GPT-OSS-120b-sized w13 (128 x 6144 x 1536
// bytes, tp 1) beside memcpy of the same buffer in the same run, single-threaded and on all
// hardware threads. Goal: each transform >= 0.5x single-thread memcpy. Bytes/s count the buffer
// once (bytes moved), as for memcpy.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace {

using mxg::layout::ExpertRows;
using mxg::layout::ShuffleOptions;
using mxg::layout::Threads;
using mxg::layout::TileMode;

const ExpertRows kW13{128, 6144, 1536};

// Source and destination, allocated and written once so page faults stay out of the timings.
struct Buffers {
  std::vector<std::byte> src, dst;
  Buffers() : src(static_cast<std::size_t>(kW13.total_bytes())), dst(src.size()) {
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>(i * 131 + (i >> 12));
    std::memset(dst.data(), 0, dst.size());
  }
};
Buffers& buffers() {
  static Buffers b;
  return b;
}

Threads threads_of(const benchmark::State& state) { return Threads{static_cast<unsigned>(state.range(0))}; }

template <class Body>
void run(benchmark::State& state, Body body) {
  auto& b = buffers();
  for (auto _ : state) {
    body(b.src, b.dst, threads_of(state));
    benchmark::DoNotOptimize(b.dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kW13.total_bytes());
}

// memcpy split over the same threads as the transforms, so "all threads" compares like with like.
void BM_memcpy(benchmark::State& state) {
  run(state, [](auto& src, auto& dst, Threads t) {
    mxg::layout::parallel_for(kW13.experts, kW13.total_bytes(), t, [&](std::int64_t e0, std::int64_t e1) {
      std::memcpy(dst.data() + e0 * kW13.expert_bytes(), src.data() + e0 * kW13.expert_bytes(),
                  static_cast<std::size_t>((e1 - e0) * kW13.expert_bytes()));
    });
  });
}

void BM_deinterleave(benchmark::State& state) {
  run(state, [](auto& src, auto& dst, Threads t) { mxg::layout::deinterleave_rows(src, dst, kW13, "w13", t); });
}
void BM_interleave(benchmark::State& state) {
  run(state, [](auto& src, auto& dst, Threads t) { mxg::layout::interleave_rows(src, dst, kW13, "w13", t); });
}

template <TileMode Mode, bool GateUp>
void BM_shuffle(benchmark::State& state) {
  run(state, [](auto& src, auto& dst, Threads t) {
    mxg::layout::shuffle_weight(src, dst, kW13, ShuffleOptions{Mode, GateUp}, "w13", t);
  });
}
template <TileMode Mode, bool GateUp>
void BM_unshuffle(benchmark::State& state) {
  run(state, [](auto& src, auto& dst, Threads t) {
    mxg::layout::unshuffle_weight(src, dst, kW13, ShuffleOptions{Mode, GateUp}, "w13", t);
  });
}

// tp 1 slice of the checkpoint w13 (I = H = 2880: 128 x 5760 x 1440 bytes) into its padded buffer.
void BM_tp_slice_w13(benchmark::State& state) {
  const auto plan = mxg::layout::make_tp_plan(2880, 2880, 1, 0, "bench");
  const auto window = mxg::layout::tp_window(mxg::layout::ExpertTensor::gate_up_proj_blocks, plan, 1);
  const std::int64_t src_bytes = kW13.experts * window.src_rows * window.src_row_bytes;
  run(state, [&](auto& src, auto& dst, Threads t) {
    mxg::layout::tp_slice(std::span(src).first(static_cast<std::size_t>(src_bytes)), dst, kW13.experts, window, t);
  });
}

// Arg: threads (1 = single thread, 0 = every hardware thread).
#define MXG_LAYOUT_BENCH(fn) BENCHMARK(fn)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime()

MXG_LAYOUT_BENCH(BM_memcpy);
MXG_LAYOUT_BENCH(BM_deinterleave);
MXG_LAYOUT_BENCH(BM_interleave);
MXG_LAYOUT_BENCH((BM_shuffle<TileMode::separated, false>));
MXG_LAYOUT_BENCH((BM_unshuffle<TileMode::separated, false>));
MXG_LAYOUT_BENCH((BM_shuffle<TileMode::interleaved, true>));
MXG_LAYOUT_BENCH((BM_unshuffle<TileMode::interleaved, true>));
MXG_LAYOUT_BENCH(BM_tp_slice_w13);

}  // namespace

BENCHMARK_MAIN();
