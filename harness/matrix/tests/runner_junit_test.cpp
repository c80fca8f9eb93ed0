// junit.xml of a real `mxguard matrix` run, parsed with pugixml and checked against results.jsonl
// (read as plain JSON): one testsuite per case, one testcase per case x layout group, counts that add
// up, a group that CAUGHT a passing testcase, FAIL and BLIND failures listing their members with their
// metrics; report.json's totals agree with the same log.
#include <algorithm>
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

// The layout group of a result as the JUnit contract states it (reports/junit.hpp): every dimension
// but routing and inputs, "name=value" joined by '/', in name order.
std::string layout_group(const ResultLine& r) {
  std::string name;
  for (const auto& [dim, value] : r.json.at("dims").items()) {
    if (dim == "routing" || dim == "inputs") continue;
    name += (name.empty() ? "" : "/") + dim + "=" + value.get<std::string>();
  }
  return name;
}

// Checks OUT/junit.xml against OUT/results.jsonl: one testcase per case x layout group, a failure
// (with every FAIL/BLIND member in detail and no PASS member) for a group holding one, counts adding up.
void check_junit_against_log(const std::filesystem::path& out) {
  const auto results = read_results(out / "results.jsonl");
  ASSERT_FALSE(results.empty());
  // case -> group -> members
  std::map<std::string, std::map<std::string, std::vector<const ResultLine*>>> groups;
  for (const auto& r : results) groups[r.case_name][layout_group(r)].push_back(&r);
  std::map<std::string, CaseCounts> by_case;
  for (const auto& [case_name, case_groups] : groups) {
    for (const auto& [g, members] : case_groups) {
      auto& c = by_case[case_name];
      ++c.tests;
      const bool failing = std::any_of(members.begin(), members.end(), [](auto* r) { return is_failure_verdict(r->verdict); });
      const bool erroring = std::any_of(members.begin(), members.end(), [](auto* r) { return r->verdict == "ERROR"; });
      if (failing) ++c.failures;
      else if (erroring) ++c.errors;
    }
  }

  pugi::xml_document doc;
  const auto parsed = doc.load_file((out / "junit.xml").c_str());
  ASSERT_TRUE(parsed) << "junit.xml: " << parsed.description();
  const pugi::xml_node root = doc.child("testsuites");
  ASSERT_TRUE(root) << "no <testsuites> root";

  CaseCounts all;
  std::set<std::string> suite_names;
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
    std::set<std::string> seen;
    for (const pugi::xml_node tc : suite.children("testcase")) {
      ++testcases;
      const std::string group = tc.attribute("name").value();
      EXPECT_TRUE(seen.insert(group).second) << "testcase twice: " << group;
      ASSERT_TRUE(groups.at(name).count(group)) << "testcase that is no layout group: " << group;
      const auto& members = groups.at(name).at(group);
      EXPECT_EQ(std::string(tc.attribute("classname").value()), name);
      const pugi::xml_node failure = tc.child("failure");
      EXPECT_FALSE(tc.child("skipped")) << group;
      std::vector<const ResultLine*> failing;
      for (auto* r : members)
        if (is_failure_verdict(r->verdict)) failing.push_back(r);
      if (!failing.empty()) {
        ++failures;
        ASSERT_TRUE(failure) << "a group with FAIL/BLIND members must be a JUnit failure: " << group;
        // The message counts the failing members and gives the first one's decisive metric; the body
        // has every failing member in full, and no passing one.
        const std::string message = failure.attribute("message").value();
        EXPECT_TRUE(contains(message, std::to_string(failing.size()) + " of " + std::to_string(members.size()) +
                                          " members"))
            << message;
        EXPECT_TRUE(contains(message, failing.front()->verdict)) << message;
        EXPECT_TRUE(contains(message, "nmse")) << message;
        const std::string details = failure.text().get();
        for (auto* r : members) {
          const bool listed = contains(details, "id: " + r->id + "\n");
          EXPECT_EQ(listed, is_failure_verdict(r->verdict) || r->verdict == "ERROR") << r->id << "\n" << details;
        }
        for (const char* metric : {"metrics: nmse", "max_rel", "cosine"}) EXPECT_TRUE(contains(details, metric)) << details;
      } else {
        EXPECT_FALSE(failure) << "a group without FAIL/BLIND passes: " << group;
        const std::string text = tc.child("system-out").text().get();
        EXPECT_TRUE(contains(text, std::to_string(members.size()) + " members")) << text;
        EXPECT_FALSE(contains(text, "id: ")) << "no per-member detail for a passing group";
        if (std::any_of(members.begin(), members.end(), [](auto* r) { return r->verdict == "CAUGHT"; })) {
          EXPECT_TRUE(contains(text, "CAUGHT")) << "a group that CAUGHT says what it caught: " << group;
        }
      }
    }
    EXPECT_EQ(testcases, expected.tests);
    EXPECT_EQ(failures, expected.failures);
    all.tests += testcases;
    all.failures += failures;
  }
  EXPECT_EQ(suite_names.size(), by_case.size()) << "a case without a suite";
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
  loose.tokens = {2, 4};  // two members per layout group
  write_case(dir / "cases", strict);
  write_case(dir / "cases", loose);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.exit_code, 1) << run.err;

  std::map<std::string, long long> counts;
  for (const auto& r : read_results(dir / "out/results.jsonl")) ++counts[r.verdict];
  const std::map<std::string, long long> expected{{"PASS", 3}, {"CAUGHT", 1}, {"BLIND", 2}};
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
