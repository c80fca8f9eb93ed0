// Tests of the known-bad rules on the incident's historical configurations (DESIGN.md), on both
// GPT-OSS sizes and every TP size of LAYOUTS.md §4, plus what-if overrides.
#include "harness/preflight/checks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "harness/preflight/tests/test_models.hpp"

namespace mxg::preflight {
namespace {

using testing::gptoss;

PlanRequest request(std::int64_t experts, std::int64_t tp, SglangBehaviour b, EnvAssignments env = {}) {
  PlanRequest r;
  r.model = gptoss(experts);
  r.tp = tp;
  r.behaviour = b;
  r.env = std::move(env);
  r.env.emplace("SGLANG_USE_AITER", "1");
  return r;
}

std::set<std::string> bad_rules(const Verdict& v) {
  std::set<std::string> out;
  for (const auto& f : v.findings) {
    if (f.severity == Severity::Bad) out.insert(f.rule);
  }
  return out;
}

const Finding* find_rule(const Verdict& v, const std::string& rule) {
  for (const auto& f : v.findings) {
    if (f.rule == rule) return &f;
  }
  return nullptr;
}

TEST(Checks, TheOriginalIncidentIsALayoutMismatch) {
  for (std::int64_t experts : {32, 128}) {
    const Plan p = plan_sglang(request(experts, 1, SglangBehaviour::PreFix, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "0"}}));
    const Verdict v = check_plan(p);
    EXPECT_TRUE(v.bad());
    EXPECT_EQ(bad_rules(v), std::set<std::string>{"layout-mismatch"});
    const std::string& m = find_rule(v, "layout-mismatch")->message;
    EXPECT_NE(m.find("is_shuffled is false"), std::string::npos) << m;
    EXPECT_NE(m.find("interleaved-tiles shuffle family does not match gate mode separated"), std::string::npos) << m;
  }
}

TEST(Checks, PreFixIsBadEvenWithTheDefaultEnv) {
  // The flag was lost whatever the gate mode: interleaved tiles + interleave mode still read unshuffled.
  const Verdict v = check_plan(plan_sglang(request(128, 1, SglangBehaviour::PreFix)));
  EXPECT_EQ(bad_rules(v), std::set<std::string>{"layout-mismatch"});
}

TEST(Checks, TheSeparatedFixIsOkAtTp1AndBadFromTp2) {
  for (std::int64_t experts : {32, 128}) {
    EXPECT_FALSE(check_plan(plan_sglang(request(experts, 1, SglangBehaviour::Separated))).bad());
    const Verdict tp2 = check_plan(plan_sglang(request(experts, 2, SglangBehaviour::Separated)));
    EXPECT_EQ(bad_rules(tp2), std::set<std::string>{"separated-at-tp"});
    EXPECT_NE(find_rule(tp2, "separated-at-tp")->message.find("#27201"), std::string::npos);
  }
}

TEST(Checks, TheInterleavePipelineIsLayoutConsistentAtEveryTp) {
  for (std::int64_t experts : {32, 128}) {
    for (std::int64_t tp : {1, 2, 4, 8}) {
      const Verdict v = check_plan(plan_sglang(request(experts, tp, SglangBehaviour::Current)));
      SCOPED_TRACE(::testing::Message() << experts << " experts, tp " << tp);
      EXPECT_EQ(find_rule(v, "layout-mismatch"), nullptr);
      EXPECT_EQ(find_rule(v, "separated-at-tp"), nullptr);
      // LAYOUTS.md §4: only tp 4 and 8 load more than I/tp on some rank, and only a kernel taking
      // the pad exactly drops them: with the kernel unknown that is a WARN, never BAD.
      EXPECT_EQ(find_rule(v, "intermediate-pad-drops-units"), nullptr);
      EXPECT_FALSE(v.bad());
      EXPECT_EQ(find_rule(v, "intermediate-pad-kernel-dependent") != nullptr, tp >= 4);
      EXPECT_EQ(v.warned(), tp >= 4);
    }
  }
}

TEST(Checks, TheInterleavePipelineWithPadFromLoadedUnitsIsOkAtEveryTp) {
  for (std::int64_t experts : {32, 128}) {
    for (std::int64_t tp : {1, 2, 4, 8}) {
      PlanRequest r = request(experts, tp, SglangBehaviour::Current);
      r.padding = matrix::Padding::Correct;
      const Verdict v = check_plan(plan_sglang(r));
      EXPECT_FALSE(v.bad()) << experts << " experts, tp " << tp;
    }
  }
}

TEST(Checks, PinnedPadConventionDecidesThePadRule) {
  for (std::int64_t tp : {4, 8}) {
    PlanRequest exact = request(128, tp, SglangBehaviour::Current);
    exact.kernel_pads = PadConvention::Exact;  // FlyDSL: the vLLM #44679 class
    EXPECT_EQ(bad_rules(check_plan(plan_sglang(exact))), std::set<std::string>{"intermediate-pad-drops-units"});
    PlanRequest granule = request(128, tp, SglangBehaviour::Current);
    granule.kernel_pads = PadConvention::Granule;  // CK-tile: 152 -> 128 at tp 8, 48 -> 0 at tp 4
    const Verdict v = check_plan(plan_sglang(granule));
    EXPECT_FALSE(v.bad()) << tp;
    EXPECT_FALSE(v.warned()) << tp;
  }
}

TEST(Checks, PadRuleNamesTheRanksAndCounts) {
  auto exact = [](std::int64_t tp) {
    PlanRequest r = request(32, tp, SglangBehaviour::Current);
    r.kernel_pads = PadConvention::Exact;
    return r;
  };
  const Verdict tp4 = check_plan(plan_sglang(exact(4)));
  const std::string& m4 = find_rule(tp4, "intermediate-pad-drops-units")->message;
  EXPECT_NE(m4.find("hides 48 loaded"), std::string::npos) << m4;  // 3 ranks x 16
  EXPECT_NE(m4.find("rank 0 loaded 736 but the kernel uses 720"), std::string::npos) << m4;
  EXPECT_EQ(m4.find("rank 3"), std::string::npos) << m4;  // 672 loaded fits
  const Verdict tp8 = check_plan(plan_sglang(exact(8)));
  const std::string& m8 = find_rule(tp8, "intermediate-pad-drops-units")->message;
  const Verdict warned = check_plan(plan_sglang(request(32, 8, SglangBehaviour::Current)));
  const std::string& w8 = find_rule(warned, "intermediate-pad-kernel-dependent")->message;
  EXPECT_EQ(find_rule(warned, "intermediate-pad-kernel-dependent")->severity, Severity::Warning);
  EXPECT_NE(w8.find("hides 168 loaded"), std::string::npos) << w8;
  EXPECT_NE(w8.find("get_2stage_cfgs"), std::string::npos) << w8;
  EXPECT_NE(m8.find("hides 168 loaded"), std::string::npos) << m8;  // 7 ranks x 24
  EXPECT_NE(m8.find("rank 6 loaded 384 but the kernel uses 360"), std::string::npos) << m8;
}

TEST(Checks, CurrentWithEnvOffIsTheSeparatedBugAtTp2) {
  const Verdict v =
      check_plan(plan_sglang(request(128, 2, SglangBehaviour::Current, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "0"}})));
  EXPECT_EQ(bad_rules(v), std::set<std::string>{"separated-at-tp"});
}

TEST(Checks, ShuffleFamilyAgainstGateModeIsCaughtEitherWay) {
  PlanRequest a = request(32, 1, SglangBehaviour::Current);
  a.gate_mode = GateMode::Separated;  // interleaved tiles, separated kernel
  EXPECT_EQ(bad_rules(check_plan(plan_sglang(a))), std::set<std::string>{"layout-mismatch"});
  PlanRequest b = request(32, 1, SglangBehaviour::Separated);
  b.gate_mode = GateMode::Interleave;  // separated tiles, interleave kernel
  const Verdict vb = check_plan(plan_sglang(b));
  EXPECT_EQ(bad_rules(vb), std::set<std::string>{"layout-mismatch"});
  EXPECT_NE(find_rule(vb, "layout-mismatch")->message.find("separated-tiles shuffle family does not match gate mode "
                                                           "interleave"),
            std::string::npos);
  PlanRequest plain = request(32, 1, SglangBehaviour::Separated);
  plain.shuffle = matrix::WeightShuffle::None;
  plain.is_shuffled = false;  // unshuffled bytes read as unshuffled: consistent
  EXPECT_FALSE(check_plan(plan_sglang(plain)).bad());
}

TEST(Checks, UnverifiableThingsAreWarningsNotFailures) {
  PlanRequest r = request(32, 1, SglangBehaviour::Current);
  r.env.erase("SGLANG_USE_AITER");
  r.env.emplace("HIP_VISIBLE_DEVICES", "0");
  const Verdict v = check_plan(plan_sglang(r));
  EXPECT_FALSE(v.bad());
  EXPECT_FALSE(v.warned());  // notes only: no hazard
  std::string warnings;
  for (const auto& f : v.findings) {
    EXPECT_EQ(f.severity, Severity::Warning);
    warnings += f.message + "\n";
  }
  EXPECT_NE(warnings.find("SGLANG_USE_AITER is not in --env"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("HIP_VISIBLE_DEVICES=0 is not modelled"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("gfx950"), std::string::npos) << warnings;
}

TEST(Checks, NamesTheHistoricalScenarioItRealises) {
  matrix::Scenario incident{.name = "incident",
                            .comment = "",
                            .match = {{"weight_shuffle", "interleaved-tiles"}, {"is_shuffled", "false"},
                                      {"gate_mode", "separated"}}};
  matrix::Scenario pad{.name = "pad", .comment = "", .match = {{"padding", "from-i-over-tp"}},
                       .only_where_loaded_exceeds_i_over_tp = true};
  const std::vector<matrix::Scenario> scenarios = {incident, pad};
  const Verdict v1 = check_plan(
      plan_sglang(request(32, 1, SglangBehaviour::PreFix, {{"SGLANG_USE_AITER_MOE_GU_ITLV", "0"}})), scenarios);
  EXPECT_EQ(v1.scenarios, std::vector<std::string>{"incident"});
  PlanRequest exact4 = request(32, 4, SglangBehaviour::Current);
  exact4.kernel_pads = PadConvention::Exact;
  const Verdict v4 = check_plan(plan_sglang(exact4), scenarios);
  EXPECT_EQ(v4.scenarios, std::vector<std::string>{"pad"});
  // Unknown kernel: the pad hazard is only possible, so no historical scenario is claimed.
  EXPECT_TRUE(check_plan(plan_sglang(request(32, 4, SglangBehaviour::Current)), scenarios).scenarios.empty());
}

}  // namespace
}  // namespace mxg::preflight

namespace mxg::preflight {
namespace {

// AITER e4048607 as read (harness/preflight/README.md): at GPT-OSS tp 8 (I_p 512) interleave runs
// CK-tile for decode (tuned a16w4 row) and prefill (no fp8 row for 512); separated runs FlyDSL in
// prefill (tuned fp4 row); at tp 1 (I_p 3072) interleave prefill has FlyDSL fp8 rows.
TEST(AiterDispatch, TheGptossKernelChoicePerTpAndGateMode) {
  const AiterDispatch itl8 = predict_aiter_dispatch(GateMode::Interleave, 512, 3072, 128, 4);
  EXPECT_FALSE(itl8.decode.flydsl);
  EXPECT_FALSE(itl8.prefill.flydsl);
  EXPECT_TRUE(predict_aiter_dispatch(GateMode::Interleave, 3072, 3072, 128, 4).prefill.flydsl);
  EXPECT_TRUE(predict_aiter_dispatch(GateMode::Separated, 512, 3072, 128, 4).prefill.flydsl);
  EXPECT_TRUE(predict_aiter_dispatch(GateMode::Separated, 768, 3072, 128, 4).prefill.flydsl);  // heuristic fallback
  EXPECT_FALSE(predict_aiter_dispatch(GateMode::Interleave, 768, 3072, 32, 4).prefill.flydsl);  // 20b: no rows
  // The tp 8 interleave warning says what that build does.
  PlanRequest r = request(128, 8, SglangBehaviour::Current);
  const Plan plan = plan_sglang(r);
  EXPECT_EQ(plan.steps.back().name, "AITER kernel");
  const Verdict v = check_plan(plan);
  const std::string& m = find_rule(v, "intermediate-pad-kernel-dependent")->message;
  EXPECT_NE(m.find("CK-tile runs at every token count here"), std::string::npos) << m;
}

}  // namespace
}  // namespace mxg::preflight
