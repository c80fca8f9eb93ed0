// The ranking of `diagnose output` on a small synthetic layer: every historical scenario named from
// its output alone, healthy outputs, noise, unexplained outputs, and explanations the data cannot
// split. Observed outputs come from synthetic_layer.cpp (matrix prep + host backend directly).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "harness/diagnose/output/candidate_runs.hpp"
#include "harness/diagnose/output/explanations.hpp"
#include "harness/diagnose/output/observed_layer.hpp"
#include "harness/diagnose/output/tests/synthetic_layer.hpp"
#include "harness/matrix/derivation.hpp"
#include "harness/matrix/scenarios.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::diagnose {
namespace {

using matrix::Combination;
using testing::observed_output;
using testing::scenario_combination;

// H = 128, I = 96, 8 experts, top-2, 4 tokens. I/32 = 3 blocks do not split evenly over tp 2:
// rank 0 loads 64 units while I/tp = 48, so the intermediate-pad scenario exists there.
constexpr std::int64_t kH = 128, kI = 96, kE = 8, kK = 2, kT = 4;
constexpr std::uint64_t kSeed = 20240611;

const Combination kSeparatedPipeline{matrix::Prep::Deinterleaved, matrix::WeightShuffle::SeparatedTiles,
                                     matrix::ScaleShuffle::Separated, true, GateMode::Separated,
                                     matrix::Padding::Correct};
const Combination kInterleavePipeline{matrix::Prep::Deinterleaved, matrix::WeightShuffle::InterleavedTiles,
                                      matrix::ScaleShuffle::Interleaved, true, GateMode::Interleave,
                                      matrix::Padding::Correct};

// CTest runs every TEST in a process of its own, and the candidate runs are the expensive part:
// each set is computed on first use only, and the checks that share a set are parts of one TEST.
class DiagnoseOutput : public ::testing::Test {
 protected:
  static const testing::SyntheticLayer& layer() {
    static const testing::SyntheticLayer l = testing::make_synthetic_layer(kH, kI, kE, kK, kT, kSeed);
    return l;
  }
  static const std::vector<matrix::Scenario>& scenarios() {
    static const auto s = matrix::load_scenarios(MXG_TEST_SCENARIOS);
    return s;
  }
  static CandidateSet run(std::int64_t tp, std::optional<std::int64_t> rank, const std::vector<Combination>& combos) {
    const auto& l = layer();
    auto host = make_backend("host", {});
    return run_candidates(make_layer_setup(l.config, l.weights, l.hidden, l.routing, tp, rank, "synthetic"), combos,
                          scenarios(), *host);
  }
  static const CandidateSet& tp1() {
    static const CandidateSet set = run(1, std::nullopt, matrix::expand_combinations({}));
    return set;
  }
  static const CandidateSet& tp2_rank0() {
    static const CandidateSet set = run(2, 0, matrix::expand_combinations({}));
    return set;
  }

  static bool has_member(const CandidateSet& set, const Explanation& e, const Combination& c) {
    return std::ranges::any_of(e.members, [&](std::size_t m) { return set.candidates[m].combo == c; });
  }
  static bool names(const Explanation& e, const std::string& scenario) {
    return std::ranges::find(e.scenarios, scenario) != e.scenarios.end();
  }

  static void every_scenario_is_named_at_tp2_rank0();
  static void scenarios_at_tp1_except_the_pad_one();
  static void healthy_output_names_every_consistent_combination(bool at_tp1);
  static void pad_variants_are_one_explanation_where_the_data_cannot_split_them();
  static void pad_bug_and_healthy_are_split_at_tp2_rank0();
  static void noise_keeps_the_right_explanation_first();
  static void healthy_with_noise_stays_healthy();
  static void output_no_combination_explains_is_unexplained();
  static void halfway_between_two_explanations_is_ambiguous();
};

void DiagnoseOutput::every_scenario_is_named_at_tp2_rank0() {
  const auto names_in_file = testing::scenario_names();
  // The AITER-family scenarios of cases/scenarios.json: the incident's five and three incident replays
  // (scale swizzle vs flag both ways, GUGU rows read as GGUU blocks).
  ASSERT_EQ(names_in_file.size(), 8u);
  for (const auto& name : names_in_file) {
    const Combination combo = scenario_combination(name);
    const Diagnosis d = rank_explanations(tp2_rank0(), observed_output(layer(), combo, 2, 0), {});
    SCOPED_TRACE(name);
    EXPECT_EQ(d.finding, Finding::Bug);
    EXPECT_EQ(d.exit_code(), 1);
    EXPECT_TRUE(has_member(tp2_rank0(), d.best(), combo));
    EXPECT_TRUE(names(d.best(), name));
    EXPECT_EQ(d.best().consistency, Consistency::Inconsistent);
    EXPECT_FALSE(d.best().derivation.empty());
    EXPECT_EQ(d.best().fit.nmse, 0.0) << "the same preparation on the same data must reproduce the output exactly";
    EXPECT_FALSE(d.ambiguous) << "margin " << d.margin;
    EXPECT_GE(d.margin, 10.0);
  }
}

void DiagnoseOutput::scenarios_at_tp1_except_the_pad_one() {
  for (const auto& name : testing::scenario_names()) {
    const Combination combo = scenario_combination(name);
    const Diagnosis d = rank_explanations(tp1(), observed_output(layer(), combo, 1, std::nullopt), {});
    SCOPED_TRACE(name);
    EXPECT_TRUE(has_member(tp1(), d.best(), combo));
    if (name == "intermediate-pad-from-i-over-tp") {
      // At tp 1 every unit is loaded and I/tp = I: the "bug" states the correct pad, and its output
      // is the healthy one. The diagnosis must say healthy and not name the scenario.
      EXPECT_EQ(d.finding, Finding::Healthy);
      EXPECT_FALSE(names(d.best(), name));
      EXPECT_TRUE(has_member(tp1(), d.best(), kSeparatedPipeline));
    } else {
      EXPECT_EQ(d.finding, Finding::Bug);
      EXPECT_TRUE(names(d.best(), name));
      EXPECT_GE(d.margin, 10.0);
    }
  }
}

void DiagnoseOutput::healthy_output_names_every_consistent_combination(bool at_tp1) {
  const CandidateSet& set = at_tp1 ? tp1() : tp2_rank0();
  const Tensor observed = observed_output(layer(), kInterleavePipeline, at_tp1 ? 1 : 2,
                                          at_tp1 ? std::nullopt : std::optional<std::int64_t>(0));
  const Diagnosis d = rank_explanations(set, observed, {});
  EXPECT_EQ(d.finding, Finding::Healthy);
  EXPECT_EQ(d.exit_code(), 0);
  EXPECT_EQ(d.best().consistency, Consistency::Consistent);
  EXPECT_TRUE(d.best().scenarios.empty());
  EXPECT_TRUE(has_member(set, d.best(), kSeparatedPipeline));
  EXPECT_TRUE(has_member(set, d.best(), kInterleavePipeline));
  // Every combination the derivation calls consistent gives the healthy output, so all of them
  // are members of the best explanation, and nothing else is. The geometry is LAYOUTS.md §4 by
  // hand: H_p = 256, I_p = round_up(I/tp, 256) = 256; tp 1 loads 96 units, tp 2 rank 0 loads 64.
  const matrix::Geometry g{.hidden = kH,
                           .hidden_padded = 256,
                           .loaded_units = at_tp1 ? 96 : 64,
                           .intermediate_padded = 256,
                           .units_over_tp = at_tp1 ? 96 : 48,
                           .experts = 2};
  std::size_t consistent = 0;
  for (const Combination& c : matrix::expand_combinations({})) {
    if (!matrix::derive(c, g).consistent) {
      EXPECT_FALSE(has_member(set, d.best(), c)) << matrix::combination_id(c);
      continue;
    }
    ++consistent;
    EXPECT_TRUE(has_member(set, d.best(), c)) << matrix::combination_id(c);
  }
  EXPECT_EQ(d.best().members.size(), consistent);
  EXPECT_GE(consistent, 2u);
}

void DiagnoseOutput::pad_variants_are_one_explanation_where_the_data_cannot_split_them() {
  const Diagnosis d = rank_explanations(tp1(), observed_output(layer(), kSeparatedPipeline, 1, std::nullopt), {});
  for (const Explanation& e : d.ranked) {
    for (std::size_t m : e.members) {
      Combination twin = tp1().candidates[m].combo;
      twin.padding = twin.padding == matrix::Padding::Correct ? matrix::Padding::FromIOverTp : matrix::Padding::Correct;
      EXPECT_TRUE(has_member(tp1(), e, twin)) << matrix::combination_id(twin);
    }
  }
}

// At tp 2 rank 0 the pad scenario and the healthy pipeline are different explanations.
void DiagnoseOutput::pad_bug_and_healthy_are_split_at_tp2_rank0() {
  const Diagnosis pad = rank_explanations(
      tp2_rank0(), observed_output(layer(), scenario_combination("intermediate-pad-from-i-over-tp"), 2, 0), {});
  Combination fixed = scenario_combination("intermediate-pad-from-i-over-tp");
  fixed.padding = matrix::Padding::Correct;
  EXPECT_FALSE(has_member(tp2_rank0(), pad.best(), fixed));
  const auto healthy = std::ranges::find_if(pad.ranked, [&](const Explanation& e) { return has_member(tp2_rank0(), e, fixed); });
  ASSERT_NE(healthy, pad.ranked.end());
  EXPECT_GT(healthy->fit.nmse, 0.01) << "16 of 64 units dropped move the output well beyond noise";
  // Dropping the same units under the other consistent pipelines gives the same output.
  Combination interleave_pad = kInterleavePipeline;
  interleave_pad.padding = matrix::Padding::FromIOverTp;
  EXPECT_TRUE(has_member(tp2_rank0(), pad.best(), interleave_pad));
}

void DiagnoseOutput::noise_keeps_the_right_explanation_first() {
  const Combination incident = scenario_combination("gptoss-rocm-gsm8k-0.21");
  const Tensor noisy = testing::with_noise(observed_output(layer(), incident, 2, 0), 1e-4, 1);
  const Diagnosis d = rank_explanations(tp2_rank0(), noisy, {});
  EXPECT_EQ(d.finding, Finding::Bug);
  EXPECT_TRUE(has_member(tp2_rank0(), d.best(), incident));
  EXPECT_GT(d.best().fit.nmse, 0.3e-4);
  EXPECT_LT(d.best().fit.nmse, 3e-4);
  EXPECT_GE(d.margin, 100.0);

  // The pad bug moves the output less than a layout mix-up; at 1e-3 noise it must still win.
  const Combination pad = scenario_combination("intermediate-pad-from-i-over-tp");
  const Diagnosis p = rank_explanations(tp2_rank0(), testing::with_noise(observed_output(layer(), pad, 2, 0), 1e-3, 2), {});
  EXPECT_EQ(p.finding, Finding::Bug);
  EXPECT_TRUE(names(p.best(), "intermediate-pad-from-i-over-tp"));
  EXPECT_FALSE(p.ambiguous) << "margin " << p.margin;
}

void DiagnoseOutput::healthy_with_noise_stays_healthy() {
  const Diagnosis h = rank_explanations(
      tp1(), testing::with_noise(observed_output(layer(), kSeparatedPipeline, 1, std::nullopt), 1e-3, 3), {});
  EXPECT_EQ(h.finding, Finding::Healthy);
}

void DiagnoseOutput::output_no_combination_explains_is_unexplained() {
  // Random numbers at the healthy output's scale.
  const Tensor healthy = observed_output(layer(), kSeparatedPipeline, 1, std::nullopt);
  std::vector<float> v = healthy.to_f32();
  double power = 0;
  for (float x : v) power += static_cast<double>(x) * x;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n(0.0, std::sqrt(power / static_cast<double>(v.size())));
  for (float& x : v) x = static_cast<float>(n(rng));
  const Diagnosis d = rank_explanations(tp1(), Tensor::from_f32(v, healthy.shape()), {});
  EXPECT_EQ(d.finding, Finding::Unexplained);
  EXPECT_EQ(d.exit_code(), 1);
  EXPECT_GT(d.best().fit.nmse, 0.5);
  EXPECT_FALSE(d.ambiguous);  // ambiguity is only claimed among explanations that explain

  // A NaN the candidates do not produce: nothing reproduces the non-finite positions.
  std::vector<float> with_nan = healthy.to_f32();
  with_nan[3] = std::nanf("");
  const Diagnosis nan = rank_explanations(tp1(), Tensor::from_f32(with_nan, healthy.shape()), {});
  EXPECT_EQ(nan.finding, Finding::Unexplained);
  EXPECT_EQ(nan.best().fit.nonfinite_mismatches, 1);
  EXPECT_TRUE(has_member(tp1(), nan.best(), kSeparatedPipeline)) << "ties broken by NMSE over finite pairs";
}

void DiagnoseOutput::halfway_between_two_explanations_is_ambiguous() {
  const Tensor a = observed_output(layer(), kSeparatedPipeline, 2, 0);
  const Tensor b = observed_output(layer(), scenario_combination("intermediate-pad-from-i-over-tp"), 2, 0);
  std::vector<float> mid = a.to_f32();
  const std::vector<float> vb = b.to_f32();
  for (std::size_t i = 0; i < mid.size(); ++i) mid[i] = 0.5f * (mid[i] + vb[i]);
  const Diagnosis d = rank_explanations(tp2_rank0(), Tensor::from_f32(mid, a.shape()), {.explained_nmse = 1.0});
  EXPECT_TRUE(d.ambiguous);
  EXPECT_LT(d.margin, 2.0);
  EXPECT_GE(d.contenders, 2u);
}

TEST_F(DiagnoseOutput, AtTp2Rank0) {
  // The precondition of the intermediate-pad scenario, from LAYOUTS.md §4's formula directly.
  const std::int64_t per_rank = (kI / 32 + 1) / 2 * 32;  // ceil(3 / 2) * 32
  ASSERT_EQ(per_rank, 64);
  ASSERT_GT(per_rank, kI / 2);
  EXPECT_EQ(tp2_rank0().candidates.size(), 288u);
  EXPECT_EQ(tp2_rank0().outputs.size(), 288u);
  {
    SCOPED_TRACE("every scenario named");
    every_scenario_is_named_at_tp2_rank0();
  }
  {
    SCOPED_TRACE("healthy");
    healthy_output_names_every_consistent_combination(false);
  }
  {
    SCOPED_TRACE("pad bug vs healthy");
    pad_bug_and_healthy_are_split_at_tp2_rank0();
  }
  {
    SCOPED_TRACE("noise");
    noise_keeps_the_right_explanation_first();
  }
  {
    SCOPED_TRACE("ambiguous");
    halfway_between_two_explanations_is_ambiguous();
  }
}

TEST_F(DiagnoseOutput, AtTp1) {
  EXPECT_EQ(tp1().candidates.size(), 288u);
  // tp 1: from-i-over-tp states the same pad as correct, so those share the kernel runs.
  EXPECT_EQ(tp1().outputs.size(), 144u);
  {
    SCOPED_TRACE("scenarios");
    scenarios_at_tp1_except_the_pad_one();
  }
  {
    SCOPED_TRACE("healthy");
    healthy_output_names_every_consistent_combination(true);
  }
  {
    SCOPED_TRACE("pad variants");
    pad_variants_are_one_explanation_where_the_data_cannot_split_them();
  }
  {
    SCOPED_TRACE("healthy with noise");
    healthy_with_noise_stays_healthy();
  }
  {
    SCOPED_TRACE("unexplained");
    output_no_combination_explains_is_unexplained();
  }
}

TEST_F(DiagnoseOutput, FullOutputAtTp2IsTheSumOverRanks) {
  // Only the separated pipeline's dimensions, both paddings and both flags: 4 combinations x 2 ranks.
  const auto combos = matrix::expand_combinations({{"prep", {"deinterleaved"}},
                                                   {"weight_shuffle", {"separated-tiles"}},
                                                   {"scale_shuffle", {"separated"}},
                                                   {"gate_mode", {"separated"}}});
  auto host = make_backend("host", {});
  const CandidateSet set = run_candidates(
      make_layer_setup(layer().config, layer().weights, layer().hidden, layer().routing, 2, std::nullopt, "synthetic"),
      combos, scenarios(), *host);
  EXPECT_EQ(set.kernel_runs, 8);
  const Combination pad = scenario_combination("intermediate-pad-from-i-over-tp");
  const Diagnosis d = rank_explanations(set, observed_output(layer(), pad, 2, std::nullopt), {});
  EXPECT_EQ(d.finding, Finding::Bug);
  EXPECT_TRUE(names(d.best(), "intermediate-pad-from-i-over-tp"));
  EXPECT_EQ(d.best().fit.nmse, 0.0);
  const Diagnosis h = rank_explanations(set, observed_output(layer(), kSeparatedPipeline, 2, std::nullopt), {});
  EXPECT_EQ(h.finding, Finding::Healthy);
  // The full output is not rank 0's partial sum: rank 1's units are missing from that.
  const Diagnosis partial = rank_explanations(set, observed_output(layer(), kSeparatedPipeline, 2, 0), {});
  EXPECT_EQ(partial.finding, Finding::Unexplained);
}

TEST(SameOutput, GroupsOnlyWhatTheDataCannotSplit) {
  const std::vector<float> a = {1.0f, -2.0f, 3.0f, 0.5f};
  std::vector<float> b = a;
  b[0] = std::nextafter(1.0f, 2.0f);  // NMSE ~ 1e-15
  EXPECT_TRUE(same_output(Tensor::from_f32(a, {2, 2}), Tensor::from_f32(b, {2, 2})));
  b[0] = 1.001f;  // NMSE ~ 7e-8
  EXPECT_FALSE(same_output(Tensor::from_f32(a, {2, 2}), Tensor::from_f32(b, {2, 2})));
  std::vector<float> n = a;
  n[1] = std::nanf("");
  EXPECT_TRUE(same_output(Tensor::from_f32(n, {2, 2}), Tensor::from_f32(n, {2, 2})));
  EXPECT_FALSE(same_output(Tensor::from_f32(n, {2, 2}), Tensor::from_f32(a, {2, 2})));
  // Same values in another dtype are the same output.
  EXPECT_TRUE(same_output(Tensor::from_f32(a, {2, 2}, DType::BF16), Tensor::from_f32(a, {2, 2})));
}

}  // namespace
}  // namespace mxg::diagnose
