// Agreement with a baseline run: identical answers, divergences located by byte and token, the
// top-k closeness rule in both directions, pairing by index and prompt hash, the threshold, the
// probe.jsonl round trip of token logprobs, and the summary printers.
#include "harness/probe/agreement.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <pugixml.hpp>

#include "harness/probe/runner.hpp"
#include "harness/probe/tests/probe_fixture.hpp"
#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe::testing {
namespace {

using report::ProbeQuestionRecord;
using report::ProbeToken;

// A token chosen with the given alternatives (most likely first).
ProbeToken tok(std::string text, std::vector<std::string> top) {
  ProbeToken t{std::move(text), -0.5, {}};
  double lp = -0.1;
  for (auto& alt : top) t.top.emplace_back(std::move(alt), lp -= 0.5);
  return t;
}

ProbeQuestionRecord answer(std::int64_t index, std::vector<ProbeToken> tokens, std::string hash = "h") {
  ProbeQuestionRecord r;
  r.index = index;
  r.prompt_hash = hash + std::to_string(index);
  for (const auto& t : tokens) r.response += t.text;
  r.tokens = std::move(tokens);
  return r;
}

TEST(Agreement, IdenticalAnswersAgreeFully) {
  const std::vector<ProbeQuestionRecord> base{answer(0, {tok("a", {"a"})}), answer(1, {tok("b", {"b"})})};
  const auto a = compare_agreement(base, base, 5, 1.0);
  EXPECT_EQ(a.compared, 2);
  EXPECT_EQ(a.identical, 2);
  EXPECT_EQ(a.with_logprobs, 2);
  EXPECT_DOUBLE_EQ(a.agreement, 1.0);
  EXPECT_FALSE(a.disagrees);
  EXPECT_TRUE(a.divergences.empty());
}

TEST(Agreement, ADivergenceIsLocatedByByteAndToken) {
  // "The 12" vs "The 13": the third token differs, at byte 5 ("The 1" is common).
  const auto base = answer(4, {tok("The", {"The"}), tok(" 1", {" 1"}), tok("2", {"2", "7"})});
  const auto cur = answer(4, {tok("The", {"The"}), tok(" 1", {" 1"}), tok("3", {"3", "8"})});
  const auto a = compare_agreement({base}, {cur}, 5, 1.0);
  ASSERT_EQ(a.divergences.size(), 1u);
  const auto& d = a.divergences[0];
  EXPECT_EQ(d.index, 4);
  EXPECT_EQ(d.char_offset, 5);
  EXPECT_EQ(d.token, 2);
  EXPECT_EQ(d.baseline_excerpt, "2");
  EXPECT_EQ(d.current_excerpt, "3");
  EXPECT_FALSE(d.close);  // neither token is among the other side's candidates
  EXPECT_EQ(a.diverged, 1);
  EXPECT_TRUE(a.disagrees);
}

TEST(Agreement, ANearTieWithinTopKAgreesOnlyWhenBothSidesListTheOthersToken) {
  const auto base = answer(0, {tok("x", {"x", "y"})});
  const auto both = answer(0, {tok("y", {"y", "x"})});
  const auto one_way = answer(0, {tok("y", {"y", "z"})});  // "x" is not among this side's candidates
  EXPECT_TRUE(compare_agreement({base}, {both}, 5, 1.0).divergences.at(0).close);
  EXPECT_EQ(compare_agreement({base}, {both}, 5, 1.0).close, 1);
  EXPECT_FALSE(compare_agreement({base}, {both}, 5, 1.0).disagrees);
  EXPECT_FALSE(compare_agreement({base}, {one_way}, 5, 1.0).divergences.at(0).close);
  // k limits the candidates looked at: with k = 1 only the side's own choice is listed.
  EXPECT_FALSE(compare_agreement({base}, {both}, 1, 1.0).divergences.at(0).close);
  // Without logprobs (k = 0 or a side without tokens) a difference is a divergence.
  EXPECT_FALSE(compare_agreement({base}, {both}, 0, 1.0).divergences.at(0).close);
  auto bare = both;
  bare.tokens.clear();
  const auto no_tokens = compare_agreement({base}, {bare}, 5, 1.0);
  EXPECT_FALSE(no_tokens.divergences.at(0).close);
  EXPECT_FALSE(no_tokens.divergences.at(0).token.has_value());
  EXPECT_EQ(no_tokens.with_logprobs, 0);
}

TEST(Agreement, AHeldBackTokenTextIsIdentifiedByItsLogprob) {
  // llama.cpp reports a token whose text might start a stop string with an empty text, and the next
  // token with both texts: " AQ" then "uote" arrive as "" and " AQuote".
  auto held = [](std::string first_top, std::string second_text) {
    ProbeToken a{"", -0.2, {{first_top, -0.2}, {" B", -1.0}}};
    ProbeToken b{std::move(second_text), -0.3, {{"uote", -0.3}, {"x", -2.0}}};
    return std::vector<ProbeToken>{a, b};
  };
  const auto base = answer(0, {tok(" AQ", {" AQ", " B"}), tok("uote", {"uote", "x"})});
  auto cur = answer(0, held(" AQ", " AQuote"));
  cur.response = base.response;
  EXPECT_EQ(compare_agreement({base}, {cur}, 5, 1.0).identical, 1);
  // A real difference at the held-back token is still found at that token, and judged by the rule.
  auto other = answer(0, held(" B", " Buote"));
  other.tokens[0].top = {{" B", -0.2}, {" AQ", -1.0}};
  const auto a = compare_agreement({base}, {other}, 5, 1.0);
  ASSERT_EQ(a.divergences.size(), 1u);
  EXPECT_EQ(a.divergences[0].token, 0);
  EXPECT_TRUE(a.divergences[0].close);
}

TEST(Agreement, OneAnswerStoppingEarlierIsADivergence) {
  const auto base = answer(0, {tok("a", {"a"}), tok("b", {"b"})});
  const auto cur = answer(0, {tok("a", {"a"})});
  const auto a = compare_agreement({base}, {cur}, 5, 1.0);
  ASSERT_EQ(a.divergences.size(), 1u);
  EXPECT_EQ(a.divergences[0].char_offset, 1);
  EXPECT_EQ(a.divergences[0].token, 1);
  EXPECT_FALSE(a.divergences[0].close);
}

TEST(Agreement, PairsByIndexAndPromptHashSkippingErrorsAndAppliesTheThreshold) {
  std::vector<ProbeQuestionRecord> base, cur;
  for (int i = 0; i < 10; ++i) {
    base.push_back(answer(i, {tok("n" + std::to_string(i), {})}));
    cur.push_back(answer(i, {tok(i < 8 ? "n" + std::to_string(i) : "other", {})}));
  }
  cur.push_back(answer(10, {tok("only now", {})}));  // not in the baseline
  cur[3].prompt_hash = "different prompt";            // not comparable
  cur[5].error = "HTTP 503";                          // not answered
  const auto a = compare_agreement(base, cur, 5, 0.7);
  EXPECT_EQ(a.compared, 8);   // 0..9 minus question 3 and 5
  EXPECT_EQ(a.identical, 6);  // 8 and 9 differ
  EXPECT_EQ(a.diverged, 2);
  EXPECT_DOUBLE_EQ(a.agreement, 6.0 / 8.0);
  EXPECT_FALSE(a.disagrees);  // 0.75 >= 0.7
  EXPECT_TRUE(compare_agreement(base, cur, 5, 0.8).disagrees);
}

TEST(Agreement, ABaselineFileWithNothingInCommonIsAnInputErrorNamingIt) {
  TempDir dir;
  const auto path = dir.path() / "base.jsonl";
  std::ofstream(path) << report::format_probe_line(answer(0, {tok("a", {})}, "other"));
  try {
    compare_agreement(path, {answer(0, {tok("a", {})})}, 5, 1.0);
    FAIL() << "no common question must be an input error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--agree-with"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("base.jsonl"), std::string::npos) << e.what();
  }
}

TEST(Agreement, TokenLogprobsRoundTripThroughProbeJsonl) {
  auto r = answer(2, {tok("a\n", {"a\n", "b"}), tok("\xff", {})});  // invalid UTF-8 is replaced, not fatal
  r.tokens[0].logprob = -0.125;
  const auto back = report::parse_probe_line(report::format_probe_line(r));
  ASSERT_EQ(back.tokens.size(), 2u);
  EXPECT_EQ(back.tokens[0].text, "a\n");
  EXPECT_DOUBLE_EQ(back.tokens[0].logprob, -0.125);
  ASSERT_EQ(back.tokens[0].top.size(), 2u);
  EXPECT_EQ(back.tokens[0].top[1].first, "b");
  EXPECT_DOUBLE_EQ(back.tokens[0].top[1].second, r.tokens[0].top[1].second);
  EXPECT_TRUE(back.tokens[1].top.empty());
  // A record without logprobs writes no "tokens" field (older readers and files stay compatible).
  EXPECT_EQ(report::format_probe_line(answer(1, {})).find("\"tokens\""), std::string::npos);
  EXPECT_THROW(report::parse_probe_line(R"({"schema":1,"index":0,"line":0,"order":0,"prompt_hash":"h","response":"",
      "extracted":null,"label":"1","correct":false,"degenerate":false,"finish_reason":"","completion_tokens":null,
      "latency_s":0,"attempts":1,"error":"","tokens":[["a",0]]})"),
               InputError);
}

TEST(Agreement, PrintersShowTheRateAndFailJunitOnDisagreement) {
  report::ProbeAgreement a;
  a.compared = 20;
  a.identical = 17;
  a.close = 1;
  a.diverged = 2;
  a.top_k = 5;
  a.agreement = 0.9;
  a.min_agreement = 1.0;
  a.disagrees = true;
  EXPECT_EQ(report::agreement_line(a), "18/20 agree (17 identical, 1 within top-5), 2 diverged: 90.0 %, required 100.0 %");
  report::ProbeSummary s;
  s.agreement = a;
  s.verdict = report::ProbeVerdict::Regression;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(report::render_probe_junit(s, {}).c_str()));
  bool found = false;
  for (const auto tc : doc.child("testsuites").child("testsuite").children("testcase")) {
    if (std::string(tc.attribute("name").as_string()) != "baseline-agreement") continue;
    found = true;
    EXPECT_TRUE(tc.child("failure")) << "a disagreement is a test failure";
  }
  EXPECT_TRUE(found);
  EXPECT_NE(report::render_probe_markdown(s, {}).find("| agreement with baseline | 18/20 agree"), std::string::npos);
  EXPECT_EQ(report::to_json(s).at("agreement").at("diverged"), 2);
}

std::string url_of(const standin::StandinServer& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

TEST(AgreementRun, TheSameServerAgreesAnotherOneIsARegressionWithExitCode1) {
  TempDir dir;
  const auto data = write_generated_data(dir.path(), 60, 3);
  standin::StandinOptions good;
  good.accuracy = 0.7;
  good.seed = 2;
  auto server = start_standin(good, data.items);
  ProbeConfig base = quick_config(url_of(*server), data.file, dir.path() / "base");
  base.api = Api::Completions;
  base.num_questions = 30;
  ASSERT_EQ(run_probe(base, {}).summary.verdict, report::ProbeVerdict::Pass);

  ProbeConfig same = base;
  same.out_dir = dir.path() / "same";
  same.agree_with = base.out_dir / "probe.jsonl";
  same.http.max_in_flight = 1;  // another parallelism: the answers, not their order, are compared
  const ProbeRun s = run_probe(same, {});
  EXPECT_EQ(s.summary.verdict, report::ProbeVerdict::Pass);
  ASSERT_TRUE(s.summary.agreement.has_value());
  EXPECT_EQ(s.summary.agreement->compared, 30);
  EXPECT_EQ(s.summary.agreement->identical, 30);

  standin::StandinOptions other = good;
  other.accuracy = 0.2;  // many answers change
  auto other_server = start_standin(other, data.items);
  ProbeConfig cand = same;
  cand.http.base_url = url_of(*other_server);
  cand.out_dir = dir.path() / "cand";
  const ProbeRun r = run_probe(cand, {});
  EXPECT_EQ(r.summary.verdict, report::ProbeVerdict::Regression);
  EXPECT_EQ(r.summary.exit_code, 1);
  ASSERT_TRUE(r.summary.agreement.has_value());
  EXPECT_GT(r.summary.agreement->diverged, 0);
  EXPECT_EQ(r.summary.agreement->diverged, static_cast<std::int64_t>(r.summary.agreement->divergences.size()));
  ASSERT_EQ(r.summary.reasons.size(), 1u);
  EXPECT_NE(r.summary.reasons[0].find("differ from the baseline"), std::string::npos) << r.summary.reasons[0];

  // An unreadable baseline is an input error naming the option, before any request.
  ProbeConfig missing = same;
  missing.agree_with = dir.path() / "no-such.jsonl";
  try {
    run_probe(missing, {});
    FAIL() << "a missing --agree-with file must be an input error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--agree-with"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mxg::probe::testing
