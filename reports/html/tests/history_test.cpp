// The nightly history as the report reads it: figures per night and the lists "new / fixed since last
// night", on a history written here by hand in the format ci/workflows/mxg_ci.py appends.
#include "reports/html/history.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"

namespace mxg::report::html {
namespace {

namespace fs = std::filesystem;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mxg_history_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& text) {
    const fs::path p = dir_ / "nightly.jsonl";
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

// Night 1: written before matrix steps carried totals (summary {}), one probe. Night 2: two matrix steps
// (hip and aiter) with counts, margins and failing ids, two probes.
const char* kHistory =
    R"({"time": "2026-12-01T03:40:00Z", "verdict": "pass", "sha": "aaaa", "results": [)"
    R"({"name": "matrix hip gfx950", "result": "pass", "exit_code": 0, "summary": {}},)"
    R"({"name": "probe gpt-oss-120b-gu1", "result": "pass", "exit_code": 0, "labels": {"model": "openai/gpt-oss-120b"},)"
    R"( "summary": {"verdict": "PASS", "accuracy": 0.88, "answered": 200}}]})"
    "\n\n"
    R"({"time": "2026-12-02T03:40:00Z", "verdict": "regression", "sha": "bbbb", "url": "https://example/run/2", "results": [)"
    R"({"name": "matrix hip gfx950", "result": "regression", "exit_code": 1, "seconds": 100.5,)"
    R"( "summary": {"counts": {"PASS": 70, "CAUGHT": 3500, "FAIL": 2, "BLIND": 1, "ERROR": 0, "SKIPPED": 0},)"
    R"( "margin": 2000.0, "failing": [{"id": "c/s/T=4/x", "verdict": "FAIL"}, {"id": "c/s/T=4/z", "verdict": "FAIL"},)"
    R"( {"id": "c/s/T=4/w", "verdict": "BLIND"}], "failing_total": 3}},)"
    R"({"name": "matrix aiter gfx950", "result": "pass", "exit_code": 0, "seconds": 20,)"
    R"( "summary": {"counts": {"PASS": 10, "CAUGHT": 20, "FAIL": 1, "BLIND": 0, "ERROR": 4, "SKIPPED": 0},)"
    R"( "margin": 500.0, "failing": [], "failing_total": 0}},)"
    R"({"name": "probe gpt-oss-120b-gu1", "result": "pass", "exit_code": 0, "seconds": 300,)"
    R"( "summary": {"verdict": "PASS", "accuracy": 0.875}},)"
    R"({"name": "probe gpt-oss-120b-gu0", "result": "regression", "exit_code": 1, "seconds": 60,)"
    R"( "summary": {"verdict": "REGRESSION", "accuracy": 0.04}}]})"
    "\n";

TEST_F(HistoryTest, ReadsNightsAndTheirFigures) {
  const auto nights = read_history(write(kHistory));
  ASSERT_EQ(nights.size(), 2u);  // the blank line is skipped
  EXPECT_EQ(nights[0].time, "2026-12-01T03:40:00Z");
  EXPECT_EQ(nights[1].sha, "bbbb");
  EXPECT_EQ(nights[1].url, "https://example/run/2");

  const NightFigures old = night_figures(nights[0]);
  EXPECT_FALSE(old.fail.has_value());  // summary {}: not recorded, not zero
  EXPECT_FALSE(old.margin.has_value());
  EXPECT_FALSE(old.wall_seconds.has_value());
  EXPECT_DOUBLE_EQ(old.probe_accuracy.at("probe gpt-oss-120b-gu1"), 0.88);

  const NightFigures f = night_figures(nights[1]);
  EXPECT_EQ(f.fail, 3);    // 2 (hip) + 1 (aiter)
  EXPECT_EQ(f.blind, 1);
  EXPECT_EQ(f.error, 4);
  EXPECT_DOUBLE_EQ(*f.margin, 500.0);  // the smaller of the two steps' margins
  EXPECT_DOUBLE_EQ(*f.wall_seconds, 100.5 + 20 + 300 + 60);
  EXPECT_DOUBLE_EQ(f.probe_accuracy.at("probe gpt-oss-120b-gu0"), 0.04);
  EXPECT_EQ(f.probe_verdict.at("probe gpt-oss-120b-gu0"), "REGRESSION");
}

TEST_F(HistoryTest, NewFixedAndNotRunSinceLastNight) {
  const auto nights = read_history(write(kHistory));
  Tonight tonight;
  // x still fails; y is new; z (FAIL last night) passes tonight; w (BLIND last night) did not run.
  tonight.failing = {{"c/s/T=4/x", Verdict::Fail}, {"c/s/T=4/y", Verdict::Blind}};
  tonight.verdict_of = [](const std::string& id) -> std::optional<Verdict> {
    if (id == "c/s/T=4/z") return Verdict::Pass;
    if (id == "c/s/T=4/x") return Verdict::Fail;
    if (id == "c/s/T=4/y") return Verdict::Blind;
    return std::nullopt;
  };
  tonight.probe_verdict = {{"probe gpt-oss-120b-gu1", "REGRESSION"}, {"probe gpt-oss-120b-gu0", "PASS"}};
  const Json s = since_last_night(nights.back(), tonight);
  EXPECT_EQ(s["last"]["sha"], "bbbb");
  EXPECT_TRUE(s["ids_recorded"].get<bool>());
  EXPECT_TRUE(s["ids_complete"].get<bool>());
  ASSERT_EQ(s["new"].size(), 1u);
  EXPECT_EQ(s["new"][0]["id"], "c/s/T=4/y");
  EXPECT_EQ(s["new"][0]["verdict"], "BLIND");
  ASSERT_EQ(s["fixed"].size(), 1u);
  EXPECT_EQ(s["fixed"][0]["id"], "c/s/T=4/z");
  EXPECT_EQ(s["fixed"][0]["was"], "FAIL");
  EXPECT_EQ(s["fixed"][0]["now"], "PASS");
  ASSERT_EQ(s["not_run"].size(), 1u);
  EXPECT_EQ(s["not_run"][0]["id"], "c/s/T=4/w");
  ASSERT_EQ(s["probes_new"].size(), 1u);
  EXPECT_EQ(s["probes_new"][0]["name"], "probe gpt-oss-120b-gu1");
  ASSERT_EQ(s["probes_fixed"].size(), 1u);
  EXPECT_EQ(s["probes_fixed"][0]["name"], "probe gpt-oss-120b-gu0");
}

TEST_F(HistoryTest, ANightWithoutFailingIdsComparesNothingById) {
  const auto nights = read_history(write(kHistory));
  Tonight tonight;
  tonight.failing = {{"c/s/T=4/x", Verdict::Fail}};
  const Json s = since_last_night(nights.front(), tonight);
  EXPECT_FALSE(s["ids_recorded"].get<bool>());
  EXPECT_TRUE(s["new"].empty());
  EXPECT_EQ(s["new_total"], 0);
}

TEST_F(HistoryTest, ATruncatedFailingListIsFlagged) {
  const auto nights = read_history(write(
      R"({"time": "t", "results": [{"name": "m", "summary": {"counts": {"FAIL": 900}, "failing": [{"id": "a", "verdict": "FAIL"}], "failing_total": 900}}]})"
      "\n"));
  Tonight tonight;
  tonight.failing = {{"a", Verdict::Fail}, {"b", Verdict::Fail}};
  const Json s = since_last_night(nights.front(), tonight);
  EXPECT_TRUE(s["ids_recorded"].get<bool>());
  EXPECT_FALSE(s["ids_complete"].get<bool>());
  EXPECT_EQ(s["new_total"], 1);  // b, flagged as possibly old by ids_complete = false
}

TEST_F(HistoryTest, AMalformedLineNamesFileAndLine) {
  const fs::path p = write("{\"time\": \"t\", \"results\": []}\n[1, 2]\n{\"time\": \"u\"}\n");
  try {
    read_history(p);
    FAIL() << "expected an input error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(p.string() + ":2"), std::string::npos) << what;
  }
  const fs::path q = write("{\"results\": {\"not\": \"an array\"}}\n");
  EXPECT_THROW(read_history(q), InputError);
}

}  // namespace
}  // namespace mxg::report::html
