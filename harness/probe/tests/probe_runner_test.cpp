// End-to-end tests of the probe run against the in-process stand-in: measured accuracy equals the
// stand-in's deterministic truth for every API, each fault is survived and categorised, no request is
// lost or double-counted, the sequential test stops early, resume and the paired baseline work.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "harness/probe/runner.hpp"
#include "harness/probe/tests/probe_fixture.hpp"
#include "harness/probe/tests/refusing_port.hpp"
#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe::testing {
namespace {

using report::ProbeVerdict;

std::string url_of(const standin::StandinServer& s) { return fmt::format("http://127.0.0.1:{}", s.port()); }

std::int64_t attempts_sum(const ProbeRun& run) {
  std::int64_t a = 0;
  for (const auto& q : run.questions) a += q.attempts;
  return a;
}

class ProbeRunner : public ::testing::Test {
 protected:
  TempDir dir;
  GeneratedData data = write_generated_data(dir.path(), 150, 11);
};

TEST_F(ProbeRunner, AccuracyEqualsTheStandinTruthForEveryApi) {
  standin::StandinOptions so;
  so.accuracy = 0.7;
  so.seed = 5;
  const std::int64_t truth = expected_correct(data.items, 100, so.seed, so.accuracy);
  ASSERT_GT(truth, 40);  // a sanity check of the fixture, so the equality below means something
  ASSERT_LT(truth, 95);
  for (const Api api : {Api::Sglang, Api::Completions, Api::Chat}) {
    SCOPED_TRACE(std::string(api_name(api)));
    auto server = start_standin(so, data.items);
    ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / std::string(api_name(api)));
    c.api = api;
    const ProbeRun run = run_probe(c, {});
    EXPECT_EQ(run.summary.verdict, ProbeVerdict::Pass);
    EXPECT_EQ(run.summary.answered, 100);
    EXPECT_EQ(run.summary.errors, 0);
    EXPECT_EQ(run.summary.correct, truth);
    EXPECT_EQ(run.questions.size(), 100u);
    // Every question asked once, plus the warm-up (no new tokens on /generate; one token on the OpenAI
    // APIs, which may reject zero).
    const auto st = server->stats();
    EXPECT_EQ(st.warmups, api == Api::Sglang ? 1 : 0);
    EXPECT_EQ(st.generation_requests, 101);
    EXPECT_EQ(st.answered_correct, truth);
    EXPECT_TRUE(std::filesystem::exists(c.out_dir / "probe.json"));
    EXPECT_EQ(report::load_probe_jsonl(c.out_dir / "probe.jsonl").records.size(), 100u);
  }
}

TEST_F(ProbeRunner, FaultsAreRetriedOrCountedAsErrorsNeverAsWrongAnswers) {
  standin::StandinOptions so;
  so.accuracy = 0.8;
  so.seed = 9;
  so.error_rate = 0.15;
  so.error_status = 503;
  so.drop_rate = 0.1;
  so.abort_rate = 0.1;
  so.malformed_rate = 0.05;
  so.hang_rate = 0.03;
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "faults");
  c.http.timeout_s = 0.5;  // hung requests time out and are retried
  c.retry.retries = 8;
  c.max_error_rate = 0.5;
  const ProbeRun run = run_probe(c, {});
  ASSERT_EQ(run.summary.verdict, ProbeVerdict::Pass) << fmt::format("{}", run.summary.stop_reason);
  // Every question is accounted for exactly once.
  std::set<std::int64_t> seen;
  for (const auto& q : run.questions) EXPECT_TRUE(seen.insert(q.index).second) << q.index;
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(run.summary.answered + run.summary.errors, 100);
  // Malformed bodies are not retried (a server that answers garbage is not transient): those are the
  // errors; everything else was retried into an answer.
  for (const auto& q : run.questions) {
    if (!q.error.empty()) {
      EXPECT_NE(q.error.find("malformed"), std::string::npos) << q.error;
      EXPECT_FALSE(q.correct);
    }
  }
  EXPECT_GT(run.summary.errors, 0);
  // Answered questions are scored exactly as the stand-in decided: faults never turn into wrong answers.
  std::int64_t truth_answered = 0;
  for (const auto& q : run.questions) {
    if (q.error.empty()) {
      truth_answered += standin::answers_correctly(so.seed, so.accuracy, data.items[static_cast<std::size_t>(q.index)].question);
    }
  }
  EXPECT_EQ(run.summary.correct, truth_answered);
  // No request lost or double-counted: the server saw exactly the attempts the probe made, plus the
  // warm-up (whose own fault draws can fail it only through faults that the warm-up path does not inject).
  const auto st = server->stats();
  EXPECT_EQ(st.generation_requests - st.warmups, attempts_sum(run));
  EXPECT_GT(attempts_sum(run), 100);  // retries happened
  server->stop();
}

TEST_F(ProbeRunner, ServerErrorsBeyondTheBudgetStopTheRunAsInfrastructure) {
  standin::StandinOptions so;
  so.error_rate = 1.0;
  so.error_status = 500;
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "errors");
  c.max_error_rate = 0.05;
  const ProbeRun run = run_probe(c, {});
  EXPECT_EQ(run.summary.verdict, ProbeVerdict::Infra);
  EXPECT_EQ(run.summary.exit_code, 3);
  EXPECT_EQ(run.summary.correct, 0);
  EXPECT_EQ(run.summary.answered, 0);
  // It stopped once the budget (5 of 100) was exceeded, not after asking everything.
  EXPECT_LT(run.summary.errors, 100);
  EXPECT_GT(run.summary.errors, 5);
  ASSERT_FALSE(run.summary.reasons.empty());
  EXPECT_NE(run.summary.reasons.front().find("HTTP 500"), std::string::npos) << run.summary.reasons.front();
}

TEST_F(ProbeRunner, UnreachableServerIsInfrastructureNotARegression) {
  const RefusingPort closed;
  ProbeConfig c = quick_config(closed.url(), data.file, dir.path() / "down");
  const ProbeRun run = run_probe(c, {});
  EXPECT_EQ(run.summary.verdict, ProbeVerdict::Infra);
  EXPECT_EQ(run.summary.exit_code, 3);
  EXPECT_FALSE(run.server_not_ready);  // no --wait-ready: discovery failed
  EXPECT_TRUE(std::filesystem::exists(c.out_dir / "junit.xml"));
}

TEST_F(ProbeRunner, WaitReadyRidesOutAStartingServerAndFlagsOneThatNeverStarts) {
  standin::StandinOptions so;
  so.ready_after_s = 0.8;
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "ready");
  c.num_questions = 20;
  c.wait_ready_s = 10;
  EXPECT_EQ(run_probe(c, {}).summary.verdict, ProbeVerdict::Pass);

  const RefusingPort closed;
  ProbeConfig never = quick_config(closed.url(), data.file, dir.path() / "never");
  never.wait_ready_s = 0.5;
  const ProbeRun run = run_probe(never, {});
  EXPECT_EQ(run.summary.verdict, ProbeVerdict::Infra);
  EXPECT_TRUE(run.server_not_ready);
}

TEST_F(ProbeRunner, SprtStopsEarlyOnACollapseAndOnAHealthyServer) {
  for (const auto& [accuracy, verdict] : std::vector<std::pair<double, ProbeVerdict>>{
           {0.05, ProbeVerdict::Regression}, {0.97, ProbeVerdict::Pass}}) {
    SCOPED_TRACE(accuracy);
    standin::StandinOptions so;
    so.accuracy = accuracy;
    so.seed = 3;
    auto server = start_standin(so, data.items);
    ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / fmt::format("sprt{}", accuracy));
    c.stop = StopRule::Sprt;
    c.http.max_in_flight = 4;
    const ProbeRun run = run_probe(c, {});
    EXPECT_EQ(run.summary.verdict, verdict);
    ASSERT_TRUE(run.summary.sprt.has_value());
    EXPECT_LE(run.summary.sprt->observations, 12);
    EXPECT_NE(run.summary.sprt->stop, "fallback");
    // Bounded look-ahead: requests go at most 2 x --parallel positions past the decided prefix.
    EXPECT_LE(server->stats().generation_requests - 1, run.summary.sprt->observations + 2 * 4);
  }
}

TEST_F(ProbeRunner, SprtCatchesACollapseMidRun) {
  // Right twice, then the server collapses: with 0.88 vs 0.21 at most 3 right answers (-4.30) are
  // outweighed by 5 wrong ones (+9.42, crossing +4.595), so broken within 8 questions.
  standin::StandinOptions so;
  so.accuracy = 1.0;
  so.collapse_after = 2;
  so.collapse_accuracy = 0.0;
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "collapse");
  c.stop = StopRule::Sprt;
  c.http.max_in_flight = 1;  // answers in permutation order, so the collapse point is fixed
  const ProbeRun run = run_probe(c, {});
  EXPECT_EQ(run.summary.verdict, ProbeVerdict::Regression) << run.summary.stop_reason;
  ASSERT_TRUE(run.summary.sprt.has_value());
  EXPECT_LE(run.summary.sprt->observations, 8);
  EXPECT_GE(run.summary.sprt->correct, 2);
}

TEST_F(ProbeRunner, MinAccuracyAndPairedBaselineGate) {
  standin::StandinOptions good;
  good.accuracy = 0.9;
  good.seed = 1;
  auto server = start_standin(good, data.items);
  ProbeConfig base = quick_config(url_of(*server), data.file, dir.path() / "base");
  const ProbeRun b = run_probe(base, {});
  ASSERT_EQ(b.summary.verdict, ProbeVerdict::Pass);

  // The same server again: nothing changed on any question, McNemar p = 1.
  ProbeConfig same = quick_config(url_of(*server), data.file, dir.path() / "same");
  same.baseline = base.out_dir / "probe.jsonl";
  const ProbeRun s = run_probe(same, {});
  EXPECT_EQ(s.summary.verdict, ProbeVerdict::Pass);
  ASSERT_TRUE(s.summary.paired.has_value());
  EXPECT_EQ(s.summary.paired->paired, 100);
  EXPECT_EQ(s.summary.paired->baseline_only + s.summary.paired->candidate_only, 0);
  EXPECT_DOUBLE_EQ(s.summary.paired->p_value, 1.0);

  standin::StandinOptions worse = good;
  worse.accuracy = 0.5;
  auto bad_server = start_standin(worse, data.items);
  ProbeConfig cand = quick_config(url_of(*bad_server), data.file, dir.path() / "cand");
  cand.baseline = base.out_dir / "probe.jsonl";
  cand.min_accuracy = 0.79;
  const ProbeRun r = run_probe(cand, {});
  EXPECT_EQ(r.summary.verdict, ProbeVerdict::Regression);
  EXPECT_EQ(r.summary.exit_code, 1);
  ASSERT_TRUE(r.summary.paired.has_value());
  EXPECT_TRUE(r.summary.paired->regression);
  EXPECT_GT(r.summary.paired->baseline_only, r.summary.paired->candidate_only);
  EXPECT_EQ(r.summary.reasons.size(), 2u);  // the threshold and the paired test both failed
}

TEST_F(ProbeRunner, ResumeReusesAnsweredQuestionsAndSurvivesATornLine) {
  standin::StandinOptions so;
  so.accuracy = 0.6;
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "resume");
  c.num_questions = 40;
  const ProbeRun first = run_probe(c, {});
  ASSERT_EQ(first.summary.answered, 40);
  // Keep 25 answers and a torn half line, as a killed run would leave them.
  const auto log = c.out_dir / "probe.jsonl";
  auto lines = report::load_probe_jsonl(log).records;
  std::string text;
  for (std::size_t i = 0; i < 25; ++i) text += report::format_probe_line(lines[i]);
  text += report::format_probe_line(lines[25]).substr(0, 30);
  std::ofstream(log, std::ios::binary | std::ios::trunc) << text;

  const auto before = server->stats().generation_requests;
  c.resume = true;
  const ProbeRun second = run_probe(c, {});
  EXPECT_EQ(second.summary.answered, 40);
  EXPECT_EQ(second.summary.correct, first.summary.correct);
  EXPECT_EQ(server->stats().generation_requests - before, 15 + 1);  // the 15 missing, plus the warm-up
}

TEST_F(ProbeRunner, InterruptKeepsWhatWasAnswered) {
  standin::StandinOptions so;
  so.latency_ms = 20;
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "interrupt");
  std::atomic<bool> stop{false};
  ProbeHooks hooks;
  hooks.interrupted = &stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    stop = true;
  });
  const ProbeRun run = run_probe(c, hooks);
  stopper.join();
  EXPECT_EQ(run.summary.verdict, ProbeVerdict::Interrupted);
  EXPECT_EQ(run.summary.exit_code, 130);
  EXPECT_LT(run.summary.answered, 100);
  EXPECT_EQ(report::load_probe_jsonl(c.out_dir / "probe.jsonl").records.size(), run.questions.size());
}

TEST_F(ProbeRunner, ApiKeyIsSentAndAMissingOneIsInfrastructure) {
  standin::StandinOptions so;
  so.api_key = "sekrit-123";
  auto server = start_standin(so, data.items);
  ProbeConfig c = quick_config(url_of(*server), data.file, dir.path() / "nokey");
  c.num_questions = 10;
  EXPECT_EQ(run_probe(c, {}).summary.verdict, ProbeVerdict::Infra);
  c.http.bearer_token = "sekrit-123";
  c.api_key_env = "MXG_TEST_KEY";
  c.out_dir = dir.path() / "key";
  const ProbeRun run = run_probe(c, {});
  EXPECT_EQ(run.summary.verdict, ProbeVerdict::Pass);
  // The key never reaches the reports.
  for (const char* f : {"probe.json", "probe.jsonl", "junit.xml", "summary.md"}) {
    std::ifstream in(c.out_dir / f);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(text.find("sekrit"), std::string::npos) << f;
  }
}

TEST_F(ProbeRunner, BadInputIsAnInputErrorBeforeAnyRequest) {
  ProbeConfig c = quick_config("http://127.0.0.1:1", data.file, dir.path() / "bad");
  c.num_questions = 1000;
  EXPECT_THROW(run_probe(c, {}), InputError);
  c = quick_config("http://127.0.0.1:1", dir.path() / "missing.jsonl", dir.path() / "bad");
  EXPECT_THROW(run_probe(c, {}), InputError);
  c = quick_config("ftp://x", data.file, dir.path() / "bad");
  EXPECT_THROW(run_probe(c, {}), InputError);
}

}  // namespace
}  // namespace mxg::probe::testing
