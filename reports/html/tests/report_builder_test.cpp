// ReportBuilder over report.json / results.jsonl / probe.json files written here: merging, conflicts,
// the heatmap cells, the failure groups and the probe sequence, with expectations worked out by hand.
#include "reports/html/report_builder.hpp"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "reports/jsonl.hpp"
#include "reports/html/page.hpp"
#include "reports/probe_report.hpp"

namespace mxg::report::html {
namespace {

namespace fs = std::filesystem;

CombinationResult result(const std::string& shape, const std::string& prep, const std::string& flag,
                         const std::string& routing, Verdict v, double nmse) {
  CombinationResult r;
  r.case_name = "c1";
  r.shape = shape;
  r.tokens = 4;
  r.seed = 0;
  r.dims = {{"prep", prep}, {"is_shuffled", flag}, {"routing", routing}, {"inputs", "normal"}};
  r.id = fmt::format("c1/{}/T=4/route={}/in=normal/seed=0/prep={}/flag={}", shape, routing, prep, flag);
  r.verdict = v;
  r.expected_consistent = v == Verdict::Pass || v == Verdict::Fail;
  r.metrics.nmse = nmse;
  r.tolerance = {1e-4, 0.45, 0.9999};
  r.backend = "host";
  r.kernel = "host-emulation";
  r.device = "cpu";
  if (v != Verdict::Pass) r.hotspots = {{3, 7, 0.6}};
  return r;
}

// 2 rows (s-tp1-r0, s-tp8-r0) x 4 columns (prep a/b x is_shuffled 0/1) x 2 routings = 16 results.
// Consistent columns: (a,1) and (b,0). One FAIL: tp8, (a,1), skewed. Two BLIND: tp1, (b,1).
RunSummary sample_run() {
  RunSummary run;
  run.tool_version = "0.1.0";
  run.backend = "host";
  run.case_files = {"cases/default/c1.json"};
  run.wall_seconds = 2.5;
  for (const char* shape : {"s-tp1-r0", "s-tp8-r0"})
    for (const char* prep : {"a", "b"})
      for (const char* flag : {"0", "1"})
        for (const char* routing : {"uniform", "skewed"}) {
          const std::string p = prep, f = flag, s = shape, rt = routing;
          const bool consistent = (p == "a" && f == "1") || (p == "b" && f == "0");
          if (consistent) {
            const bool fail = s == "s-tp8-r0" && p == "a" && rt == "skewed";
            // The largest PASS NMSE (3e-6) is tp1, (b,0), skewed.
            const double nmse = fail ? 0.3 : (s == "s-tp1-r0" && p == "b" && rt == "skewed") ? 3e-6 : 1e-6;
            run.results.push_back(result(s, p, f, rt, fail ? Verdict::Fail : Verdict::Pass, nmse));
          } else {
            const bool blind = s == "s-tp1-r0" && p == "b";
            // The smallest CAUGHT NMSE (0.02) is tp8, (b,1), uniform.
            const double nmse = blind ? 2e-6 : (s == "s-tp8-r0" && p == "b" && rt == "uniform") ? 0.02 : 0.5;
            run.results.push_back(result(s, p, f, rt, blind ? Verdict::Blind : Verdict::Caught, nmse));
          }
        }
  return run;
}

class ReportBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mxg_report_builder_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write_run(const std::string& sub, const RunSummary& run) {
    fs::create_directories(dir_ / sub);
    write_report_json(dir_ / sub / "report.json", run);
    return dir_ / sub;
  }
  fs::path dir_;
};

// The page's reconstruction of a cell's id (cellId in page_template.html), redone here.
std::string join_id(const Json& hm, std::size_t r, std::size_t c) {
  const std::string key = fmt::format("{},{}", r, c);
  if (hm["full_ids"].contains(key)) return hm["full_ids"][key].get<std::string>();
  std::string tpl = hm["cols"][c]["tpl"].get<std::string>();
  if (hm.contains("fill") && hm["fill"][r][c].get<int>() >= 0) {
    std::string values = hm["fills"][hm["fill"][r][c].get<std::size_t>()].get<std::string>() + "/";
    std::string filled;
    std::size_t from = 0;
    for (std::size_t star = tpl.find('*'); star != std::string::npos; star = tpl.find('*', from)) {
      filled += tpl.substr(from, star - from) + values.substr(0, values.find('/'));
      values.erase(0, values.find('/') + 1);
      from = star + 1;
    }
    tpl = filled + tpl.substr(from);
  }
  std::vector<std::string> parts = {hm["rows"][r]["prefix"].get<std::string>(),
                                    hm["middles"][hm["mid"][r][c].get<std::size_t>()].get<std::string>(), tpl};
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

TEST_F(ReportBuilderTest, TotalsHeatmapAndIdsOfOneRun) {
  ReportBuilder b;
  b.add_path(write_run("run", sample_run()));
  const Json d = b.page_data();
  const Json& m = d["matrix"];
  const Json& counts = m["totals"]["counts"];
  EXPECT_EQ(counts["PASS"], 7);
  EXPECT_EQ(counts["FAIL"], 1);
  EXPECT_EQ(counts["CAUGHT"], 6);
  EXPECT_EQ(counts["BLIND"], 2);
  EXPECT_EQ(m["totals"]["exit_code"], 1);
  EXPECT_DOUBLE_EQ(m["totals"]["margin"].get<double>(), 0.02 / 3e-6);

  const Json& hm = m["heatmap"];
  EXPECT_EQ(hm["kept"], 2);
  EXPECT_EQ(hm["dims"][0]["name"], "prep");
  EXPECT_EQ(hm["dims"][1]["name"], "is_shuffled");
  ASSERT_EQ(hm["rows"].size(), 2u);
  EXPECT_EQ(hm["rows"][0]["shape"], "s-tp1-r0");
  // Columns (a,0) (a,1) (b,0) (b,1). tp1: CAUGHT, PASS, PASS, BLIND. tp8: CAUGHT, FAIL+PASS, PASS, CAUGHT.
  EXPECT_EQ(hm["cells"][0], "CPPB");
  EXPECT_EQ(hm["cells"][1], "CFPC");
  EXPECT_EQ(hm["n"][1][1], 2);
  EXPECT_EQ(hm["mixed"]["1,1"]["PASS"], 1);
  EXPECT_EQ(hm["mixed"]["1,1"]["FAIL"], 1);
  EXPECT_FALSE(hm["mixed"].contains("0,0"));
  // Every cell's id is rebuilt exactly from row prefix, middle and column template, and names its representative.
  EXPECT_EQ(join_id(hm, 1, 1), "c1/s-tp8-r0/T=4/route=skewed/in=normal/seed=0/prep=a/flag=1");   // the FAIL
  EXPECT_EQ(join_id(hm, 0, 2), "c1/s-tp1-r0/T=4/route=skewed/in=normal/seed=0/prep=b/flag=0");   // largest PASS
  EXPECT_EQ(join_id(hm, 1, 3), "c1/s-tp8-r0/T=4/route=uniform/in=normal/seed=0/prep=b/flag=1");  // smallest CAUGHT
  EXPECT_EQ(hm["rows"][0]["prefix"], "c1/s-tp1-r0/T=4");
  // The column part of an id is at most one segment per column dimension (here prep and is_shuffled).
  EXPECT_EQ(hm["cols"][0]["tpl"], "prep=a/flag=0");
  EXPECT_FALSE(hm.contains("fill"));  // no merged dimension, nothing to fill in
  EXPECT_TRUE(hm["all_details"].get<bool>());
  // Details are arrays in kDetailFields order: nmse first, hotspots seventh.
  EXPECT_DOUBLE_EQ(hm["details"]["1,1"][0].get<double>(), 0.3);
  EXPECT_EQ(hm["details"]["1,1"][6][0][0], 3);
  ASSERT_EQ(m["failures"].size(), 3u);
  EXPECT_EQ(m["failures"][0]["verdict"], "FAIL");  // FAIL first, then the BLINDs
  EXPECT_EQ(m["failures"][0]["cell"], "1,1");
}

TEST_F(ReportBuilderTest, FailureGroupsOfTheSampleRun) {
  ReportBuilder b;
  b.add_path(write_run("run", sample_run()));
  const Json groups = b.page_data()["matrix"]["groups"];
  ASSERT_EQ(groups.size(), 2u);
  // FAIL among the 8 consistent results (p0 1, n0 7). prep=a, is_shuffled=1, tp=8, shape and routing=skewed
  // each keep it with 3 others (gain 1): prep wins the tie (first attribute). Inside prep=a, is_shuffled=1
  // sheds nothing (gain 0); tp=8 keeps it with 1 other (gain 1, before shape and routing); routing=skewed
  // then leaves it alone. Shared beyond the rule: is_shuffled=1 and the shape.
  EXPECT_EQ(groups[0]["verdict"], "FAIL");
  EXPECT_EQ(groups[0]["universe_size"], 8);
  const Json& f = groups[0]["groups"][0];
  EXPECT_EQ(f["rule"], Json::parse(R"([["prep","a"],["tp","8"],["routing","skewed"]])"));
  EXPECT_EQ(f["shared"], Json::parse(R"([["is_shuffled","1"],["shape","s-tp8-r0"]])"));
  EXPECT_EQ(f["members"], 1);
  EXPECT_EQ(f["matching"], 1);
  EXPECT_EQ(f["cells"], Json::parse(R"(["1,1"])"));
  // BLIND among the 8 inconsistent results (p0 2, n0 6): prep=b, is_shuffled=1, tp=1 and the shape each
  // keep both with 2 others (gain 2): prep=b; then tp=1 (gain 2) leaves only the two BLINDs.
  EXPECT_EQ(groups[1]["verdict"], "BLIND");
  const Json& g = groups[1]["groups"][0];
  EXPECT_EQ(g["rule"], Json::parse(R"([["prep","b"],["tp","1"]])"));
  EXPECT_EQ(g["shared"], Json::parse(R"([["is_shuffled","1"],["shape","s-tp1-r0"]])"));
  EXPECT_EQ(g["members"], 2);
  EXPECT_EQ(g["failures_matching"], 2);
}

TEST_F(ReportBuilderTest, ShardsMergeAndRepeatsCountOnce) {
  RunSummary all = sample_run(), first = all, second = all;
  first.results.assign(all.results.begin(), all.results.begin() + 10);
  second.results.assign(all.results.begin() + 10, all.results.end());
  write_run("shards/0", first);
  write_run("shards/1", second);
  ReportBuilder b;
  b.add_path(dir_ / "shards");       // finds both run folders below it
  b.add_path(dir_ / "shards" / "1");  // the same shard again: merged as duplicates
  const Json d = b.page_data();
  EXPECT_EQ(d["matrix"]["totals"]["counts"]["PASS"], 7);
  EXPECT_EQ(d["matrix"]["totals"]["counts"]["CAUGHT"], 6);
  EXPECT_DOUBLE_EQ(d["matrix"]["totals"]["margin"].get<double>(), 0.02 / 3e-6);
  ASSERT_EQ(d["sources"].size(), 3u);
  EXPECT_EQ(d["sources"][0]["results"], 10);
  EXPECT_EQ(d["sources"][1]["results"], 6);
  EXPECT_EQ(d["sources"][2]["results"], 0);
  EXPECT_EQ(d["sources"][2]["duplicates"], 6);
  EXPECT_EQ(d["matrix"]["heatmap"]["cells"][1], "CFPC");
}

TEST_F(ReportBuilderTest, ConflictingDuplicatesAreRefusedNamingBothFiles) {
  RunSummary a = sample_run(), b = sample_run();
  b.results[3].verdict = Verdict::Fail;
  const fs::path da = write_run("a", a), db = write_run("b", b);
  ReportBuilder builder;
  builder.add_path(da);
  try {
    builder.add_path(db);
    FAIL() << "expected a conflict";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(a.results[3].id), std::string::npos) << what;
    EXPECT_NE(what.find((da / "report.json").string()), std::string::npos) << what;
    EXPECT_NE(what.find((db / "report.json").string()), std::string::npos) << what;
    EXPECT_NE(what.find("verdict PASS vs FAIL"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line";
  }
}

TEST_F(ReportBuilderTest, OverTheCellBudgetInnerDimensionsMerge) {
  ReportOptions o;
  o.digest.cell_budget = 4;  // 2 rows x 4 columns do not fit; 2 rows x 2 (prep only) do
  ReportBuilder b(o);
  b.add_path(write_run("run", sample_run()));
  const Json hm = b.page_data()["matrix"]["heatmap"];
  EXPECT_EQ(hm["kept"], 1);
  EXPECT_FALSE(hm["merged_tokens"].get<bool>());
  // tp1: prep a = {CAUGHT x2, PASS x2} -> C; prep b = {PASS x2, BLIND x2} -> B.
  // tp8: prep a = {CAUGHT x2, PASS, FAIL} -> F; prep b = {PASS x2, CAUGHT x2} -> C.
  EXPECT_EQ(hm["cells"][0], "CB");
  EXPECT_EQ(hm["cells"][1], "FC");
  EXPECT_EQ(hm["n"][1][0], 4);
  EXPECT_EQ(hm["mixed"]["1,0"]["CAUGHT"], 2);
  EXPECT_EQ(hm["mixed"]["1,0"]["FAIL"], 1);
  EXPECT_EQ(hm["mixed"]["1,0"]["PASS"], 1);
  EXPECT_EQ(hm["mixed"]["1,0"].size(), 3u);
  EXPECT_EQ(join_id(hm, 1, 0), "c1/s-tp8-r0/T=4/route=skewed/in=normal/seed=0/prep=a/flag=1");
  // The merged column's ids differ in their last segment (flag=0/1): the template stars it, and the
  // representative's own value fills it back in (checked by join_id above).
  EXPECT_EQ(hm["cols"][0]["tpl"], "prep=a/*");
  EXPECT_EQ(hm["fills"][hm["fill"][1][0].get<std::size_t>()], "flag=1");
}

TEST_F(ReportBuilderTest, ResultsJsonlOfAnUnfinishedRunKeepsTheLastLinePerId) {
  fs::create_directories(dir_ / "partial");
  RunSummary run = sample_run();
  CombinationResult first = run.results[0];
  first.verdict = Verdict::Error;
  first.message = "killed";
  {
    std::ofstream out(dir_ / "partial" / "results.jsonl");
    out << format_result_line(first) << format_result_line(run.results[0]) << format_result_line(run.results[1]);
  }
  ReportBuilder b;
  b.add_path(dir_ / "partial");
  const Json t = b.page_data()["matrix"]["totals"];
  EXPECT_EQ(t["counts"]["ERROR"], 0);  // re-run by --resume: the later line counts
  EXPECT_EQ(t["counts"]["CAUGHT"], 2);
  EXPECT_EQ(t["exit_code"], 130);  // no report.json: the run did not finish
}

TEST_F(ReportBuilderTest, MalformedInputsNameFileAndField) {
  const fs::path d = write_run("bad", sample_run());
  std::string text;
  {
    std::ifstream in(d / "report.json");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string needle = "\"nmse\": 1e-06";
  const std::size_t at = text.find(needle, text.find("\"results\""));
  ASSERT_NE(at, std::string::npos);
  std::string broken = text;
  broken.replace(at, needle.size(), "\"nmse\": \"abc\"");
  std::ofstream(d / "report.json") << broken;
  ReportBuilder b;
  try {
    b.add_path(d);
    FAIL() << "expected an input error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((d / "report.json").string()), std::string::npos) << what;
    EXPECT_NE(what.find("results["), std::string::npos) << what;
    EXPECT_NE(what.find("nmse"), std::string::npos) << what;
  }
  std::string other = text;
  other.replace(other.find("mxguard-report/1"), 16, "mxguard-report/9");
  std::ofstream(d / "report.json") << other;
  ReportBuilder c;
  EXPECT_THROW(c.add_path(d), InputError);
  fs::create_directories(dir_ / "empty");
  ReportBuilder e;
  EXPECT_THROW(e.add_path(dir_ / "empty"), InputError);
  EXPECT_THROW(e.add_path(dir_ / "missing"), InputError);
}

TEST_F(ReportBuilderTest, ProbeFolderGivesSummaryAndQuestionSequence) {
  ProbeSummary s;
  s.tool_version = "mxguard 0.1.0";
  s.answered = 3;
  s.correct = 1;
  s.invalid = 1;
  s.errors = 1;
  s.accuracy = 1.0 / 3;
  s.wilson_lo = 0.06;
  s.wilson_hi = 0.79;
  s.verdict = ProbeVerdict::Regression;
  s.server = {{"model", "openai/gpt-oss-120b"}};
  std::vector<ProbeQuestionRecord> qs(4);
  // Written out of order; the sequence follows `order`: 0 wrong, 1 invalid and truncated, 2 correct, 3 error.
  qs[0].index = 0, qs[0].order = 2, qs[0].correct = true, qs[0].extracted = "7", qs[0].finish_reason = "stop";
  qs[1].index = 1, qs[1].order = 0, qs[1].extracted = "5", qs[1].finish_reason = "stop";
  qs[2].index = 2, qs[2].order = 1, qs[2].finish_reason = "length";
  qs[3].index = 3, qs[3].order = 3, qs[3].error = "HTTP 503";
  fs::create_directories(dir_ / "probe-out");
  std::ofstream(dir_ / "probe-out" / "probe.json") << to_json(s).dump(2);
  {
    std::ofstream out(dir_ / "probe-out" / "probe.jsonl");
    for (const auto& q : qs) out << format_probe_line(q);
  }
  ReportBuilder b;
  b.add_path(dir_);
  const Json d = b.page_data();
  EXPECT_TRUE(d["matrix"].is_null());
  ASSERT_EQ(d["probes"].size(), 1u);
  EXPECT_EQ(d["probes"][0]["sequence"], "wIce");
  EXPECT_EQ(d["probes"][0]["summary"]["verdict"], "REGRESSION");
  EXPECT_EQ(d["probes"][0]["series"], "probe openai/gpt-oss-120b");

  std::ofstream(dir_ / "probe-out" / "probe.json") << R"({"schema": 1, "accuracy": "high"})";
  ReportBuilder c;
  try {
    c.add_path(dir_);
    FAIL() << "expected an input error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("probe.json: field 'accuracy'"), std::string::npos) << e.what();
  }
}

TEST_F(ReportBuilderTest, NonFiniteSubnormalAndZeroErrorsHaveTheirOwnBins) {
  RunSummary run;
  run.backend = "host";
  run.results = {result("s-tp1-r0", "a", "1", "uniform", Verdict::Pass, 4e-320),  // subnormal
                 result("s-tp1-r0", "b", "0", "uniform", Verdict::Pass, 0.0),
                 result("s-tp1-r0", "a", "0", "uniform", Verdict::Caught, std::nan("")),
                 result("s-tp1-r0", "b", "1", "uniform", Verdict::Fail, INFINITY)};
  run.results[2].hotspots = {{0, 0, std::nan("")}};
  ReportBuilder b;
  b.add_matrix_run(run, "extremes");
  const Json d = b.page_data();
  const Json& h = d["matrix"]["histogram"];
  EXPECT_EQ(h["zero"]["PASS"], 1);
  EXPECT_EQ(h["nonfinite"]["CAUGHT"], 1);
  EXPECT_EQ(h["nonfinite"]["FAIL"], 1);
  // 4e-320 = 10^-319.4: bin floor(-319.4 / 0.1) = -3194.
  ASSERT_EQ(h["bins"]["PASS"].size(), 1u);
  EXPECT_EQ(h["bins"]["PASS"][0][0], -3194);
  // Values in first-seen order (prep a, b; is_shuffled 1, 0), columns sorted by them:
  // (a,1) PASS 4e-320, (a,0) CAUGHT NaN, (b,1) FAIL inf, (b,0) PASS 0.
  const Json& e = d["matrix"]["heatmap"]["nmse"][0];
  EXPECT_DOUBLE_EQ(e[0].get<double>(), 4e-320);
  EXPECT_EQ(e[1], "NaN");
  EXPECT_EQ(e[2], "Infinity");
  EXPECT_EQ(e[3], 0);
  EXPECT_NO_THROW(render_page(d));
}

TEST_F(ReportBuilderTest, HistoryGivesTrendAndTonight) {
  RunSummary run = sample_run();
  ReportBuilder b;
  b.add_path(write_run("run", run));
  const std::string fail_id = "c1/s-tp8-r0/T=4/route=skewed/in=normal/seed=0/prep=a/flag=1";
  const std::string fixed_id = "c1/s-tp8-r0/T=4/route=uniform/in=normal/seed=0/prep=a/flag=1";  // PASS tonight
  std::ofstream(dir_ / "nightly.jsonl")
      << R"({"time": "2026-12-01T03:00:00Z", "sha": "abc", "verdict": "regression", "results": [{"name": "matrix hip gfx950", "result": "regression", "seconds": 50, "summary": {"counts": {"PASS": 7, "CAUGHT": 6, "FAIL": 1, "BLIND": 0, "ERROR": 0, "SKIPPED": 0}, "margin": 100.0, "failing": [{"id": ")"
      << fixed_id << R"(", "verdict": "FAIL"}], "failing_total": 1}}]})" << "\n";
  b.set_history(dir_ / "nightly.jsonl");
  const Json h = b.page_data()["history"];
  ASSERT_EQ(h["nights"].size(), 1u);
  EXPECT_EQ(h["nights"][0]["fail"], 1);
  EXPECT_EQ(h["tonight"]["fail"], 1);
  EXPECT_EQ(h["tonight"]["blind"], 2);
  const Json& s = h["since_last_night"];
  // Tonight fails: the FAIL and the two BLINDs, none of them failing last night.
  EXPECT_EQ(s["new_total"], 3);
  ASSERT_EQ(s["fixed"].size(), 1u);
  EXPECT_EQ(s["fixed"][0]["id"], fixed_id);
  EXPECT_EQ(s["fixed"][0]["now"], "PASS");
  bool listed = false;
  for (const Json& n : s["new"]) listed = listed || n["id"] == fail_id;
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace mxg::report::html

namespace mxg::report::html {
namespace {

// The nightly's geometry (about 500 rows of case x shape x tokens, 288 layout combinations) at one
// instance per row: 144,000 results, over the cell budget, so the page must merge inner dimensions and
// stay well under 2 MB. (The full 1.4 M-result measurement is in the README, "HTML report".)
TEST(NightlySizedPage, MergesInnerDimensionsAndStaysUnderTwoMegabytes) {
  const char* preps[] = {"interleaved", "deinterleaved", "deinterleaved-bias-interleaved", "deinterleaved-scales-interleaved"};
  const char* wshuf[] = {"none", "separated-tiles", "interleaved-tiles"};
  const char* sshuf[] = {"none", "separated", "interleaved"};
  const char* gates[] = {"separated", "interleave"};
  const char* pads[] = {"correct", "from-i-over-tp"};
  RunSummary run;
  run.backend = "hip";
  run.results.reserve(500 * 288);
  for (int row = 0; row < 500; ++row) {
    const std::string shape = fmt::format("gptoss120b-tp{}-r{}", row % 2 ? 8 : 4, row % 50);  // unique per case
    for (const char* p : preps)
      for (const char* w : wshuf)
        for (const char* s : sshuf)
          for (const char* flag : {"true", "false"})
            for (const char* g : gates)
              for (const char* pad : pads) {
                CombinationResult r;
                r.case_name = fmt::format("case{}", row / 50);
                r.shape = shape;
                r.tokens = 1 << (row % 10);
                r.dims = {{"prep", p}, {"weight_shuffle", w}, {"scale_shuffle", s}, {"is_shuffled", flag},
                          {"gate_mode", g}, {"padding", pad}, {"routing", "uniform"}, {"inputs", "normal"}};
                r.id = fmt::format("{}/{}/T={}/route=uniform/in=normal/seed=0/prep={}/wshuf={}/sshuf={}/flag={}/gate={}/pad={}",
                                   r.case_name, shape, r.tokens, p, w, s, flag, g, pad);
                const bool consistent = std::string(p) == "deinterleaved" && std::string(pad) == "correct";
                r.verdict = consistent ? (row % 97 == 0 ? Verdict::Fail : Verdict::Pass) : Verdict::Caught;
                r.metrics.nmse = consistent ? 1e-6 : 0.5;
                r.message = "nmse 0.5 (tol 0.0001), max_rel 2.1 (tol 0.45), cosine 0.951234 (tol 0.999900)";
                r.derivation = consistent ? "" : "kernel reads rows 16..31 of every expert from the wrong tile";
                r.backend = "hip";
                r.kernel = "fused-moe";
                r.device = "MI355X";
                run.results.push_back(std::move(r));
              }
  }
  ReportBuilder b;
  b.add_matrix_run(run, "synthetic");
  const Json d = b.page_data();
  const Json& hm = d["matrix"]["heatmap"];
  // 500 rows x 288 columns = 144,000 cells > 36,000: padding and gate_mode merge (500 x 72 = 36,000 fits).
  EXPECT_EQ(hm["kept"], 4);
  EXPECT_EQ(hm["cols"].size(), 72u);
  EXPECT_FALSE(hm["all_details"].get<bool>());
  EXPECT_EQ(d["matrix"]["totals"]["counts"]["PASS"].get<int>() + d["matrix"]["totals"]["counts"]["FAIL"].get<int>(),
            500 * 3 * 3 * 2 * 2);
  const std::size_t bytes = render_page(d).size();
  EXPECT_LT(bytes, 2u * 1024 * 1024) << bytes;
}

}  // namespace
}  // namespace mxg::report::html
