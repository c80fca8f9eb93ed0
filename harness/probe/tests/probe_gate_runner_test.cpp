// End-to-end tests of the gate and the paired comparison against the in-process stand-in: the verdict
// for one server, data and seed is the same at every --parallel and whatever the arrival order and
// retries, the paired test always uses every planned question on both sides, and the numbers printed
// beside a verdict are the ones it was decided on.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include <fmt/format.h>

#include "harness/probe/runner.hpp"
#include "harness/probe/tests/probe_fixture.hpp"
#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe::testing {
namespace {

using report::ProbeVerdict;

std::string url_of(const standin::StandinServer& s) { return fmt::format("http://127.0.0.1:{}", s.port()); }

class GateRunner : public ::testing::Test {
 protected:
  TempDir dir;
  GeneratedData data = write_generated_data(dir.path(), 150, 23);

  ProbeConfig gate_config(const std::string& url, const std::string& out) {
    ProbeConfig c = quick_config(url, data.file, dir.path() / out);
    c.stop = StopRule::Gate;
    c.num_questions = 150;
    c.seed = 4;
    c.retry.retries = 2;
    c.max_error_rate = 1.0;  // every failed request is asked again; none may end the run
    return c;
  }
};

// What a repeated run must reproduce exactly.
using Outcome = std::tuple<ProbeVerdict, std::string, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
Outcome outcome_of(const ProbeRun& run) {
  const auto& s = run.summary;
  return {s.verdict, s.stop_reason, s.answered, s.correct, s.paired ? s.paired->baseline_only : -1,
          s.paired ? s.paired->candidate_only : -1};
}

TEST_F(GateRunner, SameGateTwentyTimesAtParallel1And8And64GivesOneVerdict) {
  // The baseline: a healthy server. The candidate: the same questions, right less often, behind a flaky
  // connection (503s, dropped connections, malformed bodies), so arrival order and retries differ from
  // run to run and between parallelisms.
  standin::StandinOptions healthy;
  healthy.accuracy = 0.9;
  healthy.seed = 6;
  healthy.threads = 80;
  auto base_server = start_standin(healthy, data.items);
  const ProbeRun base = run_probe(gate_config(url_of(*base_server), "base"), {});
  ASSERT_EQ(base.summary.answered, 150) << base.summary.stop_reason;

  standin::StandinOptions worse = healthy;
  worse.accuracy = 0.84;
  worse.error_rate = 0.08;
  worse.error_status = 503;
  worse.drop_rate = 0.04;
  worse.malformed_rate = 0.03;
  auto server = start_standin(worse, data.items);
  std::set<Outcome> outcomes;
  std::set<ProbeVerdict> verdicts;
  std::int64_t asked_again = 0;
  for (const int parallel : {1, 8, 64}) {
    for (int i = 0; i < 20; ++i) {
      ProbeConfig c = gate_config(url_of(*server), fmt::format("p{}-{}", parallel, i));
      c.http.max_in_flight = parallel;
      c.baseline = dir.path() / "base" / "probe.jsonl";
      c.warmup = false;
      const ProbeRun run = run_probe(c, {});
      verdicts.insert(run.summary.verdict);
      outcomes.insert(outcome_of(run));
      asked_again += run.summary.errors;
      ASSERT_TRUE(run.summary.paired.has_value()) << run.summary.stop_reason;
      EXPECT_EQ(run.summary.paired->paired, 150);  // every planned question, on both sides
    }
  }
  EXPECT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(outcomes.size(), 1u);
  EXPECT_GT(asked_again, 0);  // the faults did fire, and failed questions were asked again, not scored
  // The candidate's answers are the stand-in's truth on all 150 questions.
  EXPECT_EQ(std::get<3>(*outcomes.begin()), expected_correct(data.items, 150, worse.seed, worse.accuracy));
}

TEST_F(GateRunner, PassHasAtLeastTheThresholdAndAFailureShowsTheNumbersThatFailedIt) {
  for (const double accuracy : {0.97, 0.8, 0.6, 0.1}) {
    SCOPED_TRACE(accuracy);
    standin::StandinOptions so;
    so.accuracy = accuracy;
    so.seed = 2;
    auto server = start_standin(so, data.items);
    ProbeConfig c = gate_config(url_of(*server), fmt::format("acc{}", accuracy));
    const ProbeRun run = run_probe(c, {});
    const auto& s = run.summary;
    ASSERT_TRUE(s.gate.has_value());
    ASSERT_TRUE(s.min_accuracy.has_value());
    EXPECT_DOUBLE_EQ(*s.min_accuracy, static_cast<double>(s.gate->min_correct) / 150.0);
    // The summary counts exactly what the gate read.
    EXPECT_EQ(s.answered, s.gate->observations);
    EXPECT_EQ(s.correct, s.gate->correct);
    if (s.verdict == ProbeVerdict::Pass) {
      EXPECT_EQ(s.answered, 150);
      EXPECT_GE(s.accuracy, *s.min_accuracy);
    } else {
      ASSERT_EQ(s.verdict, ProbeVerdict::Regression);
      EXPECT_LT(s.accuracy, *s.min_accuracy);
    }
    // Decided by the stand-in's truth on the fixed question set when the gate read all of it.
    const std::int64_t truth = expected_correct(data.items, 150, so.seed, so.accuracy);
    if (s.gate->stop == "final") {
      EXPECT_EQ(s.correct, truth);
      EXPECT_EQ(s.verdict == ProbeVerdict::Pass, truth >= s.gate->min_correct);
    }
  }
}

TEST_F(GateRunner, ABaselineThatDidNotAnswerEveryPlannedQuestionIsRefused) {
  standin::StandinOptions so;
  so.accuracy = 0.9;
  auto server = start_standin(so, data.items);
  ProbeConfig short_base = gate_config(url_of(*server), "short");
  short_base.num_questions = 100;
  run_probe(short_base, {});
  ProbeConfig c = gate_config(url_of(*server), "cand");
  c.baseline = dir.path() / "short" / "probe.jsonl";
  try {
    run_probe(c, {});
    ADD_FAILURE() << "a baseline of 100 questions was accepted for 150";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("50 missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mxg::probe::testing
