// Tests of the printers: the JSON shape (keys, types, verdict) and the text report's order and lines.
#include "harness/preflight/report.hpp"

#include <gtest/gtest.h>

#include "harness/preflight/tests/test_models.hpp"

namespace mxg::preflight {
namespace {

Plan plan(std::int64_t tp, SglangBehaviour b) {
  PlanRequest r;
  r.model = testing::gptoss(128);
  r.tp = tp;
  r.behaviour = b;
  r.env = {{"SGLANG_USE_AITER", "1"}};
  return plan_sglang(r);
}

TEST(Report, JsonCarriesTheSameContent) {
  const Plan p = plan(2, SglangBehaviour::Separated);
  const Verdict v = check_plan(p);
  const nlohmann::json j = to_json(p, v);
  EXPECT_EQ(j.at("schema"), "mxguard.preflight/1");
  EXPECT_EQ(j.at("verdict"), "BAD");
  EXPECT_EQ(j.at("model").at("num_local_experts"), 128);
  EXPECT_EQ(j.at("request").at("sglang_behaviour"), "separated");
  EXPECT_EQ(j.at("request").at("env").at("SGLANG_USE_AITER"), "1");
  EXPECT_EQ(j.at("steps").size(), 8u);
  EXPECT_EQ(j.at("steps").at(7).at("name"), "AITER kernel");
  EXPECT_EQ(j.at("steps").at(4).at("name"), "shuffle");
  EXPECT_EQ(j.at("dispatch").at("weight_shuffle"), "separated-tiles");
  EXPECT_EQ(j.at("dispatch").at("gate_mode"), "separated");
  EXPECT_EQ(j.at("dispatch").at("is_shuffled"), "true");
  EXPECT_EQ(j.at("dispatch").at("hidden_pad"), 192);
  ASSERT_EQ(j.at("ranks").size(), 2u);
  EXPECT_EQ(j.at("ranks").at(1).at("unit_start"), 1440);
  EXPECT_EQ(j.at("ranks").at(1).at("intermediate_pad"), 96);
  ASSERT_TRUE(j.at("findings").is_array());
  EXPECT_EQ(j.at("findings").at(0).at("severity"), "bad");
  EXPECT_EQ(j.at("findings").at(0).at("rule"), "separated-at-tp");
  EXPECT_TRUE(j.at("scenarios").is_array());
  EXPECT_EQ(to_json(plan(1, SglangBehaviour::Current), check_plan(plan(1, SglangBehaviour::Current))).at("verdict"),
            "OK");
}

TEST(Report, TextListsStepsThenRanksThenVerdict) {
  const Plan bad = plan(2, SglangBehaviour::Separated);
  const std::string t = render_text(bad, check_plan(bad));
  const auto load = t.find("1. load"), gate = t.find("7. gate mode"), table = t.find("Per MoE-tp rank"),
             verdict = t.find("BAD [separated-at-tp]: ");
  ASSERT_NE(load, std::string::npos) << t;
  ASSERT_NE(gate, std::string::npos) << t;
  ASSERT_NE(table, std::string::npos) << t;
  ASSERT_NE(verdict, std::string::npos) << t;
  EXPECT_LT(load, gate);
  EXPECT_LT(gate, table);
  EXPECT_LT(table, verdict);
  EXPECT_EQ(t.find("\nOK\n"), std::string::npos);
  const Plan ok = plan(1, SglangBehaviour::Current);
  const std::string good = render_text(ok, check_plan(ok));
  EXPECT_NE(good.find("\nOK\n"), std::string::npos) << good;
  EXPECT_EQ(good.find("BAD"), std::string::npos) << good;
  EXPECT_NE(good.find("warning: "), std::string::npos) << good;
}

}  // namespace
}  // namespace mxg::preflight
