// `diagnose weights` on a GPT-OSS-120b-sized expert tensor (gate_up_proj_blocks of one layer,
// [128, 5760, 90, 16] U8, 1.06 GB), memory-mapped from safetensors files, against dumps of tp 1 (rank
// 0, 1.21 GB) and tp 8 (rank 1, 201 MB), both de-interleaved with interleaved gate-up tiles (SGLang's
// default pipeline). Side by side in the same run:
//   search/...  the fingerprint search (screen every candidate by probe tiles, verify the best)
//   naive/...   the baseline: for every candidate chain, apply it in full with the kernels/layout
//               transforms (tp-slice, de-interleave, shuffle) and compare all bytes with the dump
// Each with the tp left open (every tp the shape allows) and given (--tp). Counters: candidates.
// The files go to $MXG_BENCH_DIR (default: the system temp dir) and are removed at exit unless
// MXG_BENCH_KEEP is set (then a later run reuses them).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "harness/diagnose/weights/candidates.hpp"
#include "harness/diagnose/weights/search.hpp"
#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/layout/weight_shuffle.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
namespace dw = mxg::diagnose::weights;
namespace lm = mxg::layout;
using lm::ExpertTensor;

constexpr std::int64_t kExperts = 128, kI = 2880, kH = 2880;
constexpr ExpertTensor kKind = ExpertTensor::gate_up_proj_blocks;

fs::path bench_dir() {
  const char* dir = std::getenv("MXG_BENCH_DIR");
  return (dir != nullptr ? fs::path(dir) : fs::temp_directory_path()) / "mxg-diagnose-weights-bench";
}

// xorshift64*: a gigabyte of bytes in well under a second.
void fill_random(std::span<std::byte> out, std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const std::uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < out.size(); ++i) out[i] = static_cast<std::byte>(i);
}

// The SGLang pipeline through the library transforms.
mxg::Tensor pipeline(const mxg::Tensor& checkpoint, std::int64_t tp, std::int64_t rank) {
  const lm::TpPlan plan = lm::make_tp_plan(kI, kH, tp, rank, "bench");
  mxg::Tensor t = lm::tp_slice(checkpoint, kKind, plan, "bench");
  t = lm::deinterleave_rows(t, std::nullopt, "bench");
  return lm::shuffle_weight(t, {lm::TileMode::interleaved, true}, std::nullopt, "bench");
}

struct Files {
  fs::path dir = bench_dir();
  std::unique_ptr<mxg::SafetensorsFile> checkpoint, tp1, tp8;
  bool remove = std::getenv("MXG_BENCH_KEEP") == nullptr;

  Files() {
    fs::create_directories(dir);
    const fs::path ck = dir / "checkpoint.safetensors", d1 = dir / "dump_tp1.safetensors",
                   d8 = dir / "dump_tp8.safetensors";
    if (!fs::exists(ck) || !fs::exists(d1) || !fs::exists(d8)) {
      fmt::print(stderr, "writing the 120b-sized checkpoint and dumps to {} ...\n", dir.string());
      mxg::Tensor c(mxg::DType::U8, {kExperts, 2 * kI, kH / 32, 16});
      fill_random(c.mutable_bytes(), 0x120b);
      mxg::write_safetensors(ck, {{"model.layers.0.mlp.experts.gate_up_proj_blocks", c}});
      mxg::write_safetensors(d1, {{"w13_weight", pipeline(c, 1, 0)}});
      mxg::write_safetensors(d8, {{"w13_weight", pipeline(c, 8, 1)}});
    }
    checkpoint = std::make_unique<mxg::SafetensorsFile>(mxg::SafetensorsFile::open(ck));
    tp1 = std::make_unique<mxg::SafetensorsFile>(mxg::SafetensorsFile::open(d1));
    tp8 = std::make_unique<mxg::SafetensorsFile>(mxg::SafetensorsFile::open(d8));
  }
  ~Files() {
    checkpoint.reset();
    tp1.reset();
    tp8.reset();
    std::error_code ec;
    if (remove) fs::remove_all(dir, ec);
  }
  mxg::Tensor ckpt() const { return checkpoint->get("model.layers.0.mlp.experts.gate_up_proj_blocks"); }
  mxg::Tensor dump(std::int64_t tp) const { return (tp == 1 ? tp1 : tp8)->get("w13_weight"); }
};

Files& files() {
  static Files f;
  return f;
}

std::string expected_chain(std::int64_t tp) {
  return tp == 1 ? "tp-slice(tp=1, rank=0) → pad(I_p=3072, H_p=3072) → deinterleave → "
                   "shuffle-weight(interleaved, gate-up)"
                 : "tp-slice(tp=8, rank=1) → pad(I_p=512, H_p=3072) → deinterleave → "
                   "shuffle-weight(interleaved, gate-up)";
}

dw::SpaceLimits limits_of(const benchmark::State& state) {
  dw::SpaceLimits l;
  if (state.range(1) != 0) l.tp = state.range(0);
  return l;
}

// Args: tp of the dump, whether --tp is given.
void BM_search(benchmark::State& state) {
  const std::int64_t tp = state.range(0);
  const dw::WeightsQuery q{kKind, files().ckpt(), files().dump(tp), limits_of(state), "checkpoint", "dump"};
  std::int64_t candidates = 0;
  for (auto _ : state) {
    const dw::Diagnosis d = dw::diagnose_weights(q);
    if (d.verdict != dw::Verdict::exact || dw::chain_string(*d.chain) != expected_chain(tp)) {
      state.SkipWithError("the search did not find the chain");
      return;
    }
    candidates = d.candidates;
  }
  state.counters["candidates"] = static_cast<double>(candidates);
}

// The baseline: every candidate applied in full and compared byte for byte (all of them, since an
// exact match does not rule out another one that explains more).
void BM_naive(benchmark::State& state) {
  const std::int64_t tp = state.range(0);
  const mxg::Tensor checkpoint = files().ckpt(), dump = files().dump(tp);
  std::int64_t candidates = 0;
  for (auto _ : state) {
    const std::vector<dw::Chain> chains =
        dw::enumerate_chains(kKind, checkpoint, dump, limits_of(state), "checkpoint", "dump");
    int exact = 0;
    for (const dw::Chain& c : chains) {
      mxg::Tensor t = checkpoint;
      if (c.slice.sliced) {
        const auto& r = c.slice.ranks.front();
        t = lm::tp_slice(t, kKind, lm::make_tp_plan(kI, kH, r.tp, r.rank, "naive"), "naive");
      }
      t = t.reshaped({t.dim(0), t.dim(1), static_cast<std::int64_t>(t.nbytes()) / (t.dim(0) * t.dim(1))});
      if (c.deinterleave) t = lm::deinterleave_rows(t, std::nullopt, "naive");
      if (c.shuffle != dw::Shuffle::none) {
        const auto mode = c.shuffle == dw::Shuffle::interleaved ? lm::TileMode::interleaved : lm::TileMode::separated;
        t = lm::shuffle_weight(t, {mode, true}, std::nullopt, "naive");
      }
      if (t.nbytes() == dump.nbytes() && std::memcmp(t.bytes().data(), dump.bytes().data(), t.nbytes()) == 0) ++exact;
    }
    if (exact == 0) {
      state.SkipWithError("the baseline found no exact chain");
      return;
    }
    candidates = static_cast<std::int64_t>(chains.size());
  }
  state.counters["candidates"] = static_cast<double>(candidates);
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"tp", "tp_given"});
  for (const std::int64_t tp : {1, 8}) {
    b->Args({tp, 0});
    b->Args({tp, 1});
  }
  b->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
}

BENCHMARK(BM_search)->Apply(args)->Repetitions(3)->ReportAggregatesOnly(false);
BENCHMARK(BM_naive)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
