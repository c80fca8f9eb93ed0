// Tests of the predicted SGLang pipeline: per-rank numbers against LAYOUTS.md §4's table (written
// out here, not computed), the env var and its default, each version's dispatch, and input errors.
#include "harness/preflight/sglang_plan.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "harness/preflight/tests/test_models.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::preflight {
namespace {

using testing::gptoss;

PlanRequest request(std::int64_t tp, EnvAssignments env = {}, SglangBehaviour b = SglangBehaviour::Current) {
  PlanRequest r;
  r.model = gptoss(32);
  r.tp = tp;
  r.env = std::move(env);
  r.behaviour = b;
  return r;
}

// LAYOUTS.md §4: tp | I/tp | units loaded per rank | I_p | intermediate_pad.
struct TableRow {
  std::int64_t tp, i_over_tp;
  std::vector<std::int64_t> loaded;
  std::int64_t i_p, intermediate_pad;
};
const std::vector<TableRow> kLayoutsTable = {
    {1, 2880, {2880}, 3072, 192},
    {2, 1440, {1440, 1440}, 1536, 96},
    {4, 720, {736, 736, 736, 672}, 768, 48},
    {8, 360, {384, 384, 384, 384, 384, 384, 384, 192}, 512, 152},
};

TEST(SglangPlan, PerRankNumbersMatchTheLayoutsTable) {
  for (const TableRow& t : kLayoutsTable) {
    const Plan p = plan_sglang(request(t.tp));
    ASSERT_EQ(p.ranks.size(), t.loaded.size()) << "tp " << t.tp;
    EXPECT_EQ(p.hidden_padded, 3072);
    EXPECT_EQ(p.hidden_pad, 192);
    std::int64_t next_start = 0;
    for (std::size_t r = 0; r < t.loaded.size(); ++r) {
      const RankRow& row = p.ranks[r];
      SCOPED_TRACE(::testing::Message() << "tp " << t.tp << " rank " << r);
      EXPECT_EQ(row.units_over_tp, t.i_over_tp);
      EXPECT_EQ(row.loaded, t.loaded[r]);
      EXPECT_EQ(row.unit_start, next_start);  // the slices tile [0, I) without gaps
      EXPECT_EQ(row.unit_end - row.unit_start, t.loaded[r]);
      EXPECT_EQ(row.intermediate_padded, t.i_p);
      EXPECT_EQ(row.intermediate_pad, t.intermediate_pad);  // I_p - I/tp, as SGLang computes it
      EXPECT_EQ(row.used, t.i_over_tp);
      EXPECT_EQ(row.dropped, std::max<std::int64_t>(0, t.loaded[r] - t.i_over_tp));
      next_start = row.unit_end;
    }
    EXPECT_EQ(next_start, 2880);
  }
}

TEST(SglangPlan, PadFromLoadedUnitsDropsNothing) {
  PlanRequest r = request(4);
  r.padding = matrix::Padding::Correct;
  const Plan p = plan_sglang(r);
  const std::vector<std::int64_t> pads = {32, 32, 32, 96};  // 768 - 736, 768 - 672
  for (std::size_t i = 0; i < pads.size(); ++i) {
    EXPECT_EQ(p.ranks[i].intermediate_pad, pads[i]);
    EXPECT_EQ(p.ranks[i].dropped, 0);
  }
}

TEST(SglangPlan, GateModeDefaultsToInterleaveAndAnExplicitEnvWins) {
  const Plan def = plan_sglang(request(1));
  EXPECT_TRUE(def.gu_interleave);
  EXPECT_NE(def.gu_interleave_source.find("environ.py"), std::string::npos);
  EXPECT_EQ(def.combo.gate_mode, GateMode::Interleave);
  EXPECT_EQ(def.combo.weight_shuffle, matrix::WeightShuffle::InterleavedTiles);
  EXPECT_EQ(def.combo.scale_shuffle, matrix::ScaleShuffle::Interleaved);
  EXPECT_TRUE(def.combo.is_shuffled);
  EXPECT_EQ(def.combo.prep, matrix::Prep::Deinterleaved);

  const Plan off = plan_sglang(request(1, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "False"}}));
  EXPECT_FALSE(off.gu_interleave);
  EXPECT_EQ(off.gu_interleave_source, "--env SGLANG_USE_AITER_MOE_GU_ITLV=False");
  EXPECT_EQ(off.combo.gate_mode, GateMode::Separated);
  EXPECT_EQ(off.combo.weight_shuffle, matrix::WeightShuffle::SeparatedTiles);
  EXPECT_EQ(off.combo.scale_shuffle, matrix::ScaleShuffle::Separated);
}

TEST(SglangPlan, VersionsDispatchAsTheirPullRequestsDescribe) {
  // Pre-#26884 with the incident's command line: a16w4 tiles, flag lost, separated kernel.
  const Plan pre = plan_sglang(request(1, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "0"}}, SglangBehaviour::PreFix));
  EXPECT_EQ(pre.combo.weight_shuffle, matrix::WeightShuffle::InterleavedTiles);
  EXPECT_FALSE(pre.combo.is_shuffled);
  EXPECT_EQ(pre.combo.gate_mode, GateMode::Separated);
  // #26884: separated whatever the env says.
  const Plan sep = plan_sglang(request(2, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "1"}}, SglangBehaviour::Separated));
  EXPECT_EQ(sep.combo.weight_shuffle, matrix::WeightShuffle::SeparatedTiles);
  EXPECT_TRUE(sep.combo.is_shuffled);
  EXPECT_EQ(sep.combo.gate_mode, GateMode::Separated);
}

TEST(SglangPlan, StepsComeInPipelineOrderWithSources) {
  const Plan p = plan_sglang(request(4));
  const std::vector<std::string> names = {"load",        "tp-slice",  "pad",         "de-interleave",
                                          "shuffle",     "is_shuffled", "gate mode", "AITER kernel"};
  ASSERT_EQ(p.steps.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(p.steps[i].name, names[i]);
    EXPECT_FALSE(p.steps[i].source.empty()) << names[i];
  }
  EXPECT_NE(p.steps[2].detail.find("I_p = round_up(I/tp, 256) = 768, intermediate_pad = 48"), std::string::npos)
      << p.steps[2].detail;
}

TEST(SglangPlan, ExpertParallelSplitsExpertsAndShrinksMoeTp) {
  PlanRequest r = request(8);
  r.model = gptoss(128);
  r.ep = 4;
  const Plan p = plan_sglang(r);
  EXPECT_EQ(p.moe_tp, 2);
  EXPECT_EQ(p.experts_per_rank, 32);
  ASSERT_EQ(p.ranks.size(), 2u);
  EXPECT_EQ(p.ranks[0].loaded, 1440);
}

TEST(SglangPlan, OverridesReplaceThePrediction) {
  PlanRequest r = request(1);
  r.gate_mode = GateMode::Separated;
  r.is_shuffled = false;
  r.shuffle = matrix::WeightShuffle::None;
  const Plan p = plan_sglang(r);
  EXPECT_EQ(p.combo.gate_mode, GateMode::Separated);
  EXPECT_FALSE(p.combo.is_shuffled);
  EXPECT_EQ(p.combo.scale_shuffle, matrix::ScaleShuffle::None);
  EXPECT_EQ(p.steps[4].source, "override (--shuffle)");
}

std::string error_of(const PlanRequest& r) {
  try {
    plan_sglang(r);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(SglangPlan, SizesSglangCannotRunAreInputErrors) {
  EXPECT_NE(error_of(request(7)).find("intermediate_size = 2880 is not divisible by the MoE tp size 7"),
            std::string::npos)
      << error_of(request(7));
  PlanRequest ep = request(4);
  ep.ep = 3;
  EXPECT_NE(error_of(ep).find("--ep 3: does not divide --tp 4"), std::string::npos);
  PlanRequest experts = request(6);
  experts.ep = 6;
  experts.model.intermediate = 2880;
  EXPECT_NE(error_of(experts).find("num_local_experts = 32 is not divisible by --ep 6"), std::string::npos);
  PlanRequest odd = request(1);
  odd.model.intermediate = 2890;
  EXPECT_NE(error_of(odd).find("not a multiple of 32"), std::string::npos) << error_of(odd);
  PlanRequest quant = request(1);
  quant.model.quant_method = "fp8";
  EXPECT_NE(error_of(quant).find("quant_method = 'fp8'"), std::string::npos);
  PlanRequest unquantized = request(1);
  unquantized.model.quant_method.clear();
  EXPECT_NE(error_of(unquantized).find("--quantization mxfp4"), std::string::npos);
  unquantized.quantization_flag = true;
  EXPECT_EQ(error_of(unquantized), "");
  EXPECT_NE(error_of(request(1, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "maybe"}})).find("not a boolean"),
            std::string::npos);
}

}  // namespace
}  // namespace mxg::preflight
