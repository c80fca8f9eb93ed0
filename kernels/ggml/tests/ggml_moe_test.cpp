// run_ggml_moe on ggml's CPU backend against the independent reference of moe_reference.hpp:
// every element inside the derived q8_0 bound, each realistic corruption outside it, the merged
// and split graphs identical, the result independent of threads and repeatable, and bad input an
// InputError before ggml (which aborts on bad shapes) sees it.
#include "kernels/ggml/ggml_moe.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ggml-cpu.h"
#include "kernels/common/errors.hpp"
#include "kernels/ggml/tests/moe_reference.hpp"
#include "kernels/ggml/tests/random_ggml_problem.hpp"

namespace mxg::ggml_family {
namespace {

using testing::agreement;
using testing::random_problem;
using testing::RandomProblemSpec;
using testing::reference_moe;

// Small but not aligned to anything but the 32-element block: I = 96 is three blocks, H = 64 two;
// six experts of which some are never selected.
const RandomProblemSpec kSmall{.tokens = 5, .hidden = 64, .intermediate = 96, .experts = 6, .topk = 3, .seed = 11};

GgmlRunOptions options(int threads, bool extra_buffers) {
  return GgmlRunOptions{.threads = threads, .extra_buffers = extra_buffers};
}

struct Mode {
  int threads;
  bool extra_buffers;
};

class GgmlMoe : public ::testing::TestWithParam<Mode> {};

TEST_P(GgmlMoe, EveryElementIsWithinTheQ8Bound) {
  for (const RandomProblemSpec spec :
       {kSmall, RandomProblemSpec{.tokens = 1, .hidden = 96, .intermediate = 64, .experts = 4, .topk = 1, .seed = 3},
        RandomProblemSpec{.tokens = 9, .hidden = 128, .intermediate = 32, .experts = 3, .topk = 3, .seed = 5}}) {
    const GgmlMoeProblem p = random_problem(spec);
    const Tensor y = run_ggml_moe(p, options(GetParam().threads, GetParam().extra_buffers));
    ASSERT_EQ(y.dtype(), DType::F32);
    ASSERT_EQ(y.shape(), (Shape{spec.tokens, spec.hidden}));
    const auto a = agreement(y, reference_moe(p));
    EXPECT_EQ(a.outside_bound, 0) << "largest error / bound " << a.max_err_over_bound << ", T = " << spec.tokens;
    // The error is the one q8_0 activations explain: its NMSE is near the reference's prediction
    // (a sum over hundreds of roughly independent roundings; measured ratios are 0.6 to 1.1).
    EXPECT_GT(a.nmse, 0.3 * a.predicted_nmse);
    EXPECT_LT(a.nmse, 3.0 * a.predicted_nmse);
    std::printf("T=%ld H=%ld I=%ld: NMSE %.3g (q8_0 predicts %.3g), largest error / bound %.3f\n",
                static_cast<long>(spec.tokens), static_cast<long>(spec.hidden), static_cast<long>(spec.intermediate),
                a.nmse, a.predicted_nmse, a.max_err_over_bound);
  }
}

TEST_P(GgmlMoe, MergedGateUpGivesTheSplitResultBitForBit) {
  GgmlMoeProblem p = random_problem(kSmall);
  const Tensor split = run_ggml_moe(p, options(GetParam().threads, GetParam().extra_buffers));
  p.experts = testing::merge_gate_up(p.experts);
  const Tensor merged = run_ggml_moe(p, options(GetParam().threads, GetParam().extra_buffers));
  // Each output row of a mul_mat_id is one dot product of the same q8_0 activations, whether its
  // weight row sits in a gate tensor or in the first half of a gate_up tensor.
  EXPECT_TRUE(merged.same_bytes(split));
}

INSTANTIATE_TEST_SUITE_P(ThreadsAndBuffers, GgmlMoe,
                         ::testing::Values(Mode{1, true}, Mode{2, true}, Mode{1, false}, Mode{2, false}),
                         [](const auto& info) {
                           return std::string(info.param.extra_buffers ? "ExtraBuffers" : "PlainCpu") +
                                  std::to_string(info.param.threads) + "Threads";
                         });

TEST(GgmlMoeResult, DoesNotDependOnTheThreadCountAndRepeats) {
  const GgmlMoeProblem p = random_problem(kSmall);
  for (bool extra : {true, false}) {
    const Tensor one = run_ggml_moe(p, options(1, extra));
    EXPECT_TRUE(run_ggml_moe(p, options(1, extra)).same_bytes(one));
    EXPECT_TRUE(run_ggml_moe(p, options(2, extra)).same_bytes(one));
    EXPECT_TRUE(run_ggml_moe(p, options(3, extra)).same_bytes(one));
  }
}

// The matrix runner calls a backend from several worker threads at once: concurrent runs (each
// with its own ggml context, backend and OpenMP team) must not disturb one another.
TEST(GgmlMoeResult, ConcurrentRunsFromSeveralThreadsMatchSerialOnes) {
  std::vector<GgmlMoeProblem> problems;
  std::vector<Tensor> serial;
  for (std::uint64_t seed = 20; seed < 24; ++seed) {
    RandomProblemSpec spec = kSmall;
    spec.seed = seed;
    problems.push_back(random_problem(spec));
    serial.push_back(run_ggml_moe(problems.back(), options(2, seed % 2 == 0)));
  }
  std::vector<Tensor> concurrent(problems.size());
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    workers.emplace_back([&, i] { concurrent[i] = run_ggml_moe(problems[i], options(2, i % 2 == 0)); });
  }
  for (auto& w : workers) w.join();
  for (std::size_t i = 0; i < problems.size(); ++i) EXPECT_TRUE(concurrent[i].same_bytes(serial[i])) << "problem " << i;
}

// Each corruption is a bug a converter or loader could ship. Run on the corrupted bytes, ggml must
// leave the bound of the true weights (the check sees the bug) while staying inside the bound of
// the corrupted weights (ggml computed what it was given: the difference is the layout, not noise).
struct Corruption {
  const char* name;
  void (*apply)(GgmlExperts&, std::int64_t expert);
};

class GgmlMoeCorrupted : public ::testing::TestWithParam<Corruption> {};

TEST_P(GgmlMoeCorrupted, LeavesTheBoundOfTheTrueWeights) {
  const GgmlMoeProblem good = random_problem(kSmall);
  GgmlMoeProblem bad = good;
  // A converter bug hits every expert alike.
  for (std::int64_t e = 0; e < kSmall.experts; ++e) GetParam().apply(bad.experts, e);
  for (bool extra : {true, false}) {
    const Tensor y = run_ggml_moe(bad, options(2, extra));
    const auto against_truth = agreement(y, reference_moe(good));
    std::printf("%s: %ld of %ld elements outside the bound, largest error / bound %.2f, NMSE %.3g (q8_0 predicts "
                "%.3g)\n",
                GetParam().name, static_cast<long>(against_truth.outside_bound), static_cast<long>(y.numel()),
                against_truth.max_err_over_bound, against_truth.nmse, against_truth.predicted_nmse);
    // The worst-case bound is loose (it grows like K, the error like sqrt(K)), so a bug leaves it
    // on a fraction of the elements only; the NMSE separates by orders of magnitude.
    EXPECT_GT(against_truth.outside_bound, y.numel() / 20);
    EXPECT_GT(against_truth.nmse, 100.0 * against_truth.predicted_nmse);
    EXPECT_EQ(agreement(y, reference_moe(bad)).outside_bound, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Bugs, GgmlMoeCorrupted,
    ::testing::Values(Corruption{"SwappedGateAndUp", testing::swap_gate_and_up},
                      Corruption{"SwappedNibbles", testing::swap_gate_nibbles},
                      Corruption{"DownScaleOneBinadeHigh",
                                 [](GgmlExperts& x, std::int64_t e) { testing::shift_down_scales(x, e, +1); }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(GgmlMoeReport, NamesTheLibraryAndWhereEachWeightWent) {
  const GgmlMoeProblem p = random_problem(kSmall);
  GgmlRunReport plain, extra;
  run_ggml_moe(p, options(2, false), &plain);
  run_ggml_moe(p, options(2, true), &extra);
  EXPECT_EQ(plain.threads, 2);
  EXPECT_NE(plain.ggml_version.find('('), std::string::npos) << plain.ggml_version;
  // Split graph, llama.cpp's order: up, then gate, then down, each weight then its bias.
  const std::vector<std::string> names = {"ffn_up_exps", "ffn_up_exps.bias", "ffn_gate_exps",
                                          "ffn_gate_exps.bias", "ffn_down_exps", "ffn_down_exps.bias"};
  ASSERT_EQ(plain.placements.size(), names.size());
  ASSERT_EQ(extra.placements.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(plain.placements[i], names[i] + ": CPU");
    // llama.cpp's loader: expert matrices into CPU_REPACK where ggml has an MXFP4 repack kernel
    // for this CPU (x86 with AVX2: rows a multiple of 8), biases (add_id) always in the CPU buffer.
    const bool repacked = i % 2 == 0 && ggml_cpu_has_avx2();
    EXPECT_EQ(extra.placements[i], names[i] + (repacked ? ": CPU_REPACK" : ": CPU"));
  }
  EXPECT_NE(ggml_kernel_version().find("CPU backend"), std::string::npos);
}

TEST(GgmlMoeInput, BadProblemsAndThreadCountsAreInputErrors) {
  GgmlMoeProblem p = random_problem(kSmall);
  EXPECT_THROW(run_ggml_moe(p, -1), InputError);
  p.topk_ids.as_mut<std::int32_t>()[4] = 6;
  try {
    run_ggml_moe(p, 1);
    FAIL() << "accepted an expert id out of range";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "ggml problem: topk_ids: [1, 1] is 6, expected an expert id in [0, 6)");
  }
  p = random_problem(kSmall);
  p.experts.down = Tensor(DType::U8, {6, 64, 17});
  EXPECT_THROW(run_ggml_moe(p, 1), InputError);
}

}  // namespace
}  // namespace mxg::ggml_family
