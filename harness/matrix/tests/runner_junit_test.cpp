// junit.xml of a real `mxguard matrix` run, parsed with pugixml and checked against results.jsonl
// (read as plain JSON): one testsuite per case, one testcase per combination, counts that add up,
// CAUGHT a passing testcase, FAIL and BLIND failures carrying their metrics; report.json's totals
// agree with the same log.
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }
bool is_failure_verdict(const std::string& v) { return v == "FAIL" || v == "BLIND"; }

struct CaseCounts {
  long long tests = 0, failures = 0, errors = 0;
};

// Checks OUT/junit.xml against OUT/results.jsonl, suite by suite and testcase by testcase.
void check_junit_against_log(const std::filesystem::path& out) {
  const auto results = read_results(out / "results.jsonl");
  ASSERT_FALSE(results.empty());
  std::map<std::string, CaseCounts> by_case;
  std::map<std::string, const ResultLine*> by_id;
  for (const auto& r : results) {
    auto& c = by_case[r.case_name];
    ++c.tests;
    if (is_failure_verdict(r.verdict)) ++c.failures;
    if (r.verdict == "ERROR") ++c.errors;
    by_id[r.id] = &r;
  }

  pugi::xml_document doc;
  const auto parsed = doc.load_file((out / "junit.xml").c_str());
  ASSERT_TRUE(parsed) << "junit.xml: " << parsed.description();
  const pugi::xml_node root = doc.child("testsuites");
  ASSERT_TRUE(root) << "no <testsuites> root";

  CaseCounts all;
  std::set<std::string> suite_names, testcase_names;
  for (const pugi::xml_node suite : root.children("testsuite")) {
    const std::string name = suite.attribute("name").value();
    SCOPED_TRACE("testsuite " + name);
    EXPECT_TRUE(suite_names.insert(name).second) << "two suites for one case";
    ASSERT_TRUE(by_case.count(name)) << "a suite for a case with no results";
    const CaseCounts& expected = by_case.at(name);
    EXPECT_EQ(suite.attribute("tests").as_llong(-1), expected.tests);
    EXPECT_EQ(suite.attribute("failures").as_llong(-1), expected.failures);
    EXPECT_EQ(suite.attribute("errors").as_llong(-1), expected.errors);
    EXPECT_EQ(suite.attribute("skipped").as_llong(-1), 0);
    EXPECT_GE(suite.attribute("time").as_double(-1), 0.0);

    long long testcases = 0, failures = 0;
    for (const pugi::xml_node tc : suite.children("testcase")) {
      ++testcases;
      const std::string id = tc.attribute("name").value();
      EXPECT_TRUE(testcase_names.insert(id).second) << "testcase twice: " << id;
      ASSERT_TRUE(by_id.count(id)) << "testcase without a result: " << id;
      const ResultLine& r = *by_id.at(id);
      EXPECT_EQ(std::string(tc.attribute("classname").value()), r.case_name);
      const pugi::xml_node failure = tc.child("failure");
      EXPECT_FALSE(tc.child("error")) << id;
      EXPECT_FALSE(tc.child("skipped")) << id;
      if (is_failure_verdict(r.verdict)) {
        ++failures;
        ASSERT_TRUE(failure) << r.verdict << " must be a JUnit failure: " << id;
        EXPECT_EQ(std::string(failure.attribute("type").value()), r.verdict);
        // The one-line message names the verdict and the decisive metric against its tolerance; the
        // body has every metric, so a CI reader needs no report.json.
        const std::string message = failure.attribute("message").value();
        EXPECT_TRUE(contains(message, r.verdict)) << message;
        EXPECT_TRUE(contains(message, "nmse")) << message;
        const std::string details = failure.text().get();
        EXPECT_TRUE(contains(details, "id: " + id)) << details;
        for (const char* metric : {"metrics: nmse", "max_rel", "cosine"}) EXPECT_TRUE(contains(details, metric)) << details;
      } else {
        EXPECT_FALSE(failure) << r.verdict << " is a passing testcase: " << id;
      }
      if (r.verdict == "CAUGHT") {
        EXPECT_TRUE(contains(tc.child("system-out").text().get(), "CAUGHT")) << "a CAUGHT says what it caught: " << id;
      }
    }
    EXPECT_EQ(testcases, expected.tests);
    EXPECT_EQ(failures, expected.failures);
    all.tests += testcases;
    all.failures += failures;
  }
  EXPECT_EQ(suite_names.size(), by_case.size()) << "a case without a suite";
  EXPECT_EQ(testcase_names.size(), by_id.size()) << "a result without a testcase";
  EXPECT_EQ(root.attribute("tests").as_llong(-1), all.tests);
  EXPECT_EQ(root.attribute("failures").as_llong(-1), all.failures);
}

// report.json's verdict counts and exit code against the log.
void check_report_totals_against_log(const std::filesystem::path& out, int exit_code) {
  std::map<std::string, long long> counts;
  for (const auto& r : read_results(out / "results.jsonl")) ++counts[r.verdict];
  const auto totals = nlohmann::json::parse(read_text(out / "report.json")).at("totals");
  for (const char* v : {"PASS", "CAUGHT", "FAIL", "BLIND", "ERROR", "SKIPPED"}) {
    EXPECT_EQ(totals.at("counts").at(v).get<long long>(), counts[v]) << v;
  }
  EXPECT_EQ(totals.at("exit_code").get<int>(), exit_code);
}

TEST(MatrixJunit, HostRunOfTwoCasesHasOneSuiteEachAndBlindAsFailure) {
  ScratchDir dir;
  TinyCase strict;
  strict.name = "strict";
  strict.sweep("is_shuffled", nlohmann::json::array({true, false}));  // PASS + CAUGHT
  TinyCase loose;
  loose.name = "loose";
  loose.loose().sweep("weight_shuffle", nlohmann::json::array({"separated-tiles", "interleaved-tiles"}));  // PASS + BLIND
  write_case(dir / "cases", strict);
  write_case(dir / "cases", loose);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.exit_code, 1) << run.err;

  std::map<std::string, long long> counts;
  for (const auto& r : read_results(dir / "out/results.jsonl")) ++counts[r.verdict];
  const std::map<std::string, long long> expected{{"PASS", 2}, {"CAUGHT", 1}, {"BLIND", 1}};
  ASSERT_EQ(counts, expected) << "the run must hold every verdict this test checks the mapping of";

  check_junit_against_log(dir / "out");
  check_report_totals_against_log(dir / "out", 1);
}

TEST(MatrixJunit, FailFromABrokenKernelIsAFailureWithItsMetrics) {
  ScratchDir dir;
  write_case(dir / "cases", TinyCase{}.sweep("is_shuffled", nlohmann::json::array({true, false})));
  const std::string kernel_cmd =
      "MXGUARD='" + mxguard_binary().string() + "' sh '" + MXG_TEST_CORRUPTING_ADAPTER + "' {in} {out}";
  const auto run = run_mxguard(
      {"matrix", "--cases", "cases", "--out", "out", "--backend", "external", "--kernel-cmd", kernel_cmd}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.exit_code, 1) << run.err;
  std::multiset<std::string> verdicts;
  for (const auto& r : read_results(dir / "out/results.jsonl")) verdicts.insert(r.verdict);
  ASSERT_EQ(verdicts, (std::multiset<std::string>{"FAIL", "CAUGHT"}));

  check_junit_against_log(dir / "out");
  check_report_totals_against_log(dir / "out", 1);
}

TEST(MatrixJunit, ErrorIsAJUnitErrorNotAFailure) {
  ScratchDir dir;
  write_case(dir / "cases", TinyCase{});
  const auto run = run_mxguard(
      {"matrix", "--cases", "cases", "--out", "out", "--backend", "external", "--kernel-cmd", "false {in} {out}"},
      dir.path());
  ASSERT_EQ(run.exit_code, 3) << run.err;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "out/junit.xml").c_str()));
  const pugi::xml_node root = doc.child("testsuites");
  EXPECT_EQ(root.attribute("tests").as_llong(-1), 1);
  EXPECT_EQ(root.attribute("errors").as_llong(-1), 1);
  EXPECT_EQ(root.attribute("failures").as_llong(-1), 0);
  const pugi::xml_node tc = root.child("testsuite").child("testcase");
  EXPECT_TRUE(tc.child("error"));
  EXPECT_FALSE(tc.child("failure"));
  check_report_totals_against_log(dir / "out", 3);
}

}  // namespace
}  // namespace mxg::matrix::testing
