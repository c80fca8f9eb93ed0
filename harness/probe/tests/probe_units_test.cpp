// Unit tests of the probe run's parts: permutation, ordered feed, question plan, paired baseline,
// and the probe printers (probe.jsonl round trip, JUnit outcome mapping, SGLang's lines).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <pugixml.hpp>

#include "harness/probe/extract.hpp"
#include "harness/probe/ordered_feed.hpp"
#include "harness/probe/paired_baseline.hpp"
#include "harness/probe/question_plan.hpp"
#include "harness/probe/tests/probe_fixture.hpp"
#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe::testing {
namespace {

TEST(SeededPermutation, IsAPermutationDeterministicPerSeedAndVariesWithIt) {
  const auto a = seeded_permutation(500, 7);
  auto sorted = a;
  std::ranges::sort(sorted);
  for (std::int64_t i = 0; i < 500; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(a, seeded_permutation(500, 7));
  EXPECT_NE(a, seeded_permutation(500, 8));
  // Not the identity, and each position is equally likely to hold any element: the mean of the first
  // element over many seeds is near (n-1)/2 (a biased shuffle that leaves it in place would fail).
  double mean = 0;
  for (std::uint64_t s = 0; s < 4000; ++s) mean += static_cast<double>(seeded_permutation(10, s)[0]);
  EXPECT_NEAR(mean / 4000, 4.5, 0.25);
}

TEST(OrderedFeed, ReleasesInPermutationOrderSkippingErrors) {
  OrderedFeed f(5);
  f.record(2, true);
  EXPECT_TRUE(f.release().empty());  // position 0 still missing
  f.record(0, false);
  EXPECT_EQ(f.release(), std::vector<bool>({false}));
  f.record(1, std::nullopt);  // an error is not scored but unblocks the order
  EXPECT_EQ(f.release(), std::vector<bool>({true}));
  EXPECT_EQ(f.released_positions(), 3);
  f.record(4, true);
  f.record(3, true);
  EXPECT_EQ(f.release(), std::vector<bool>({true, true}));
  EXPECT_EQ(f.released_positions(), 5);
  EXPECT_THROW(f.record(3, true), std::logic_error);  // a double count is a bug, loudly
  EXPECT_THROW(f.record(5, true), std::logic_error);
}

TEST(QuestionPlan, FollowsSglangSelectionAndPromptRules) {
  TempDir dir;
  const auto data = write_generated_data(dir.path(), 30, 4);
  ProbeConfig c = quick_config("http://127.0.0.1:1", data.file, dir.path());
  c.num_questions = 12;
  c.num_shots = 3;
  const QuestionPlan plan = make_question_plan(c);
  // The shots are the first three lines, written out by the rule in PROBE.md.
  std::string prefix;
  for (int i = 0; i < 3; ++i) {
    prefix += "Question: " + data.items[static_cast<std::size_t>(i)].question + "\nAnswer: " +
              data.items[static_cast<std::size_t>(i)].answer + "\n\n";
  }
  EXPECT_EQ(plan.shot_prefix, prefix);
  ASSERT_EQ(plan.questions.size(), 12u);
  for (std::size_t i = 0; i < 12; ++i) {
    const auto& q = plan.questions[i];
    EXPECT_EQ(q.index, static_cast<std::int64_t>(i));
    EXPECT_EQ(q.line, static_cast<std::int64_t>(i) + 1);  // one item per line, no comments
    EXPECT_EQ(q.prompt, prefix + "Question: " + data.items[i].question + "\nAnswer:");
    EXPECT_EQ(q.prompt_hash.size(), 16u);
    EXPECT_EQ(plan.by_order[static_cast<std::size_t>(q.order)], q.index);
  }
  c.num_questions = 31;
  EXPECT_THROW(make_question_plan(c), InputError);
  c.num_questions = 5;
  c.shots_from = ShotSource::Train;
  EXPECT_THROW(make_question_plan(c), InputError);  // no --train-data
}

report::ProbeQuestionRecord record(std::int64_t index, bool correct, std::string hash = "h") {
  report::ProbeQuestionRecord r;
  r.index = index;
  r.prompt_hash = hash + std::to_string(index);
  r.correct = correct;
  r.label = "1";
  r.extracted = correct ? std::optional<std::string>("1") : std::nullopt;
  r.attempts = 1;
  return r;
}

void write_log(const std::filesystem::path& p, const std::vector<report::ProbeQuestionRecord>& rs) {
  std::ofstream out(p, std::ios::binary);
  for (const auto& r : rs) out << report::format_probe_line(r);
}

TEST(PairedBaseline, CountsDiscordantPairsAndAppliesExactMcNemar) {
  TempDir dir;
  std::vector<report::ProbeQuestionRecord> base, cur;
  // 7 questions right before and wrong now, none the other way (PROBE.md: p = 0.016); 20 agreeing.
  for (int i = 0; i < 27; ++i) {
    base.push_back(record(i, true));
    cur.push_back(record(i, i >= 7));
  }
  base.push_back(record(27, true, "other"));  // a different prompt: not paired
  cur.push_back(record(27, false));
  write_log(dir.path() / "b.jsonl", base);
  const auto p = compare_with_baseline(dir.path() / "b.jsonl", cur, 0.05);
  EXPECT_EQ(p.paired, 27);
  EXPECT_EQ(p.baseline_only, 7);
  EXPECT_EQ(p.candidate_only, 0);
  EXPECT_NEAR(p.p_value, 2.0 / 128.0, 1e-12);
  EXPECT_TRUE(p.regression);
  // Gains are not a regression, however significant.
  const auto gain = compare_with_baseline(dir.path() / "b.jsonl", base, 0.05);
  EXPECT_FALSE(gain.regression);
  std::vector<report::ProbeQuestionRecord> unrelated{record(0, true, "zzz")};
  EXPECT_THROW(compare_with_baseline(dir.path() / "b.jsonl", unrelated, 0.05), InputError);
}

TEST(ProbeLog, RoundTripsEveryFieldAndNamesTheBadLine) {
  TempDir dir;
  report::ProbeQuestionRecord r = record(3, false);
  r.response = "digits \xff and \xe2\x82\xac";  // invalid UTF-8 is replaced, not fatal
  r.completion_tokens = 17;
  r.latency_s = 0.25;
  r.error = "";
  r.finish_reason = "length";
  const auto back = report::parse_probe_line(report::format_probe_line(r));
  EXPECT_EQ(back.index, 3);
  EXPECT_EQ(back.completion_tokens, 17);
  EXPECT_EQ(back.finish_reason, "length");
  EXPECT_FALSE(back.extracted.has_value());
  EXPECT_NE(back.response.find("\xe2\x82\xac"), std::string::npos);
  std::ofstream(dir.path() / "x.jsonl") << report::format_probe_line(r) << "{\"schema\": 1}\n";
  try {
    report::load_probe_jsonl(dir.path() / "x.jsonl");
    FAIL() << "a line without fields must be rejected";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("x.jsonl:2:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'index'"), std::string::npos) << e.what();
  }
}

report::ProbeSummary summary(report::ProbeVerdict v) {
  report::ProbeSummary s;
  s.verdict = v;
  s.answered = 200;
  s.correct = 176;
  s.invalid = 3;
  s.accuracy = 0.88;
  s.wall_s = 12.3456;
  s.output_throughput = 1234.5678;
  s.stop_reason = "all 200 questions finished";
  if (v == report::ProbeVerdict::Regression) s.reasons.push_back("accuracy 0.210 is below --min-accuracy 0.790");
  if (v == report::ProbeVerdict::Infra) s.reasons.push_back("12 requests failed");
  return s;
}

TEST(ProbeReports, SglangLinesJunitOutcomesAndMarkdown) {
  EXPECT_EQ(report::render_sglang_lines(summary(report::ProbeVerdict::Pass)),
            "Accuracy: 0.880\nInvalid: 0.015\nLatency: 12.346 s\nOutput throughput: 1234.568 token/s\n");
  auto junit_counts = [](report::ProbeVerdict v) {
    pugi::xml_document doc;
    EXPECT_TRUE(doc.load_string(report::render_probe_junit(summary(v), {}).c_str()));
    const auto suite = doc.child("testsuites").child("testsuite");
    return std::pair<int, int>(suite.attribute("failures").as_int(), suite.attribute("errors").as_int());
  };
  // A regression is a failure, infrastructure trouble an error: CI shows them differently.
  EXPECT_EQ(junit_counts(report::ProbeVerdict::Pass), std::make_pair(0, 0));
  EXPECT_EQ(junit_counts(report::ProbeVerdict::Regression), std::make_pair(1, 0));
  EXPECT_EQ(junit_counts(report::ProbeVerdict::Infra), std::make_pair(0, 1));
  const std::string md = report::render_probe_markdown(summary(report::ProbeVerdict::Regression), {});
  EXPECT_EQ(md.rfind("# mxguard probe: REGRESSION\n", 0), 0u);
  EXPECT_NE(md.find("below --min-accuracy"), std::string::npos);
}

}  // namespace
}  // namespace mxg::probe::testing
