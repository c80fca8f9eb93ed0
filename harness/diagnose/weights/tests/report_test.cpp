// The report record's exit-code rule and the wording of fractions: one differing tile among many
// never reads "100%".
#include <gtest/gtest.h>

#include "harness/diagnose/weights/report.hpp"

namespace mxg::diagnose::weights {
namespace {

WeightsReport report(Verdict v, std::int64_t tiles, std::int64_t matched) {
  WeightsReport r;
  r.tensor = "model.layers.0.mlp.experts.gate_up_proj_blocks";
  Chain c;
  c.checkpoint_experts = 1;
  c.experts = {0};
  r.diagnosis.verdict = v;
  r.diagnosis.chain = c;
  r.diagnosis.verification.tiles = tiles;
  r.diagnosis.verification.matched = matched;
  return r;
}

TEST(WeightsReport, ExitCodeRule) {
  WeightsReport r = report(Verdict::exact, 10, 10);
  EXPECT_EQ(report_exit_code(r), 0);
  r.kernel = KernelReadReport{Sourced<GateMode>{GateMode::Separated, "--gate-mode"}, Sourced<bool>{true, "--is-shuffled"}, {}};
  EXPECT_EQ(report_exit_code(r), 0);
  r.kernel->read.consistent = false;
  EXPECT_EQ(report_exit_code(r), 1);
  EXPECT_EQ(to_json(r).at("exit_code"), 1);
  EXPECT_EQ(report_exit_code(report(Verdict::partial, 10, 9)), 1);
  EXPECT_EQ(report_exit_code(report(Verdict::unknown, 10, 1)), 1);
}

TEST(WeightsReport, FractionsRoundDown) {
  const std::string text = render_text(report(Verdict::partial, 552960, 552959));
  EXPECT_NE(text.find("552,959 of 552,960 match (99.9998%); 1 differ"), std::string::npos) << text;
  const std::string low = render_text(report(Verdict::unknown, 8, 1));
  EXPECT_NE(low.find("1 of 8 match (12.5%)"), std::string::npos) << low;
}

}  // namespace
}  // namespace mxg::diagnose::weights
