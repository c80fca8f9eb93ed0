// End-to-end interruption of `mxguard matrix`: a run killed outright (SIGKILL, nothing flushed but
// results.jsonl) resumes with --resume and finishes exactly the set an uninterrupted run produces,
// without redoing what had finished; Ctrl-C (SIGINT) exits 130 with partial reports written.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

using namespace std::chrono_literals;

// Every layout dimension swept except padding: 4 preps x 3 weight shuffles x 3 scale shuffles x 2 flags
// x 2 gate modes = 144 combinations of one instance, a few seconds with one job: long enough to be
// stopped in the middle.
constexpr std::size_t kSweepCombinations = 4 * 3 * 3 * 2 * 2;
TinyCase sweep_case() {
  TinyCase c;
  c.name = "sweep";
  c.dimensions = {{"padding", nlohmann::json::array({"correct"})}};
  return c;
}

std::multiset<std::string> ids_of(const std::vector<ResultLine>& results) {
  std::multiset<std::string> ids;
  for (const auto& r : results) ids.insert(r.id);
  return ids;
}

std::set<std::string> as_set(const std::multiset<std::string>& ids) { return {ids.begin(), ids.end()}; }

// The number in "resuming, N results already" on the resumed run's stderr; -1 when absent.
long resumed_count(const std::string& err) {
  std::smatch m;
  static const std::regex pattern("resuming, ([0-9]+) results already");
  return std::regex_search(err, m, pattern) ? std::stol(m[1]) : -1;
}

TEST(MatrixResume, KilledRunResumesToTheUninterruptedSetWithoutRedoingFinishedCombinations) {
  ScratchDir dir;
  write_case(dir / "cases", sweep_case());

  const auto reference_run = run_mxguard({"matrix", "--cases", "cases", "--out", "whole", "--jobs", "2"}, dir.path());
  ASSERT_TRUE(reference_run.exited) << reference_run.err;
  const auto whole = ids_of(read_results(dir / "whole/results.jsonl"));
  ASSERT_EQ(whole.size(), kSweepCombinations);
  ASSERT_EQ(as_set(whole).size(), kSweepCombinations) << "the uninterrupted run repeated an id";

  const auto log = dir / "out/results.jsonl";
  std::vector<std::string> before_kill;
  {
    MxguardProcess child({"matrix", "--cases", "cases", "--out", "out", "--jobs", "1"}, dir.path(), dir.path());
    ASSERT_TRUE(wait_for_lines(log, 10, child, 60s)) << "the run ended before it could be killed mid-way";
    child.send(SIGKILL);
    const auto killed = child.wait();
    ASSERT_FALSE(killed.exited);
    ASSERT_EQ(killed.term_signal, SIGKILL);
    before_kill = complete_lines(log);
  }
  ASSERT_GE(before_kill.size(), 10u);
  ASSERT_LT(before_kill.size(), kSweepCombinations) << "the kill came too late to test resuming";
  EXPECT_FALSE(std::filesystem::exists(dir / "out/report.json")) << "SIGKILL leaves no time for reports";

  const auto resumed = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--jobs", "2", "--resume"}, dir.path());
  ASSERT_TRUE(resumed.exited) << resumed.err;
  EXPECT_EQ(resumed.exit_code, reference_run.exit_code) << resumed.err;
  EXPECT_EQ(resumed_count(resumed.err), static_cast<long>(before_kill.size())) << resumed.err;

  // What was on disk before the kill is still the file's start, byte for byte: the resumed run appended.
  const auto after = complete_lines(log);
  ASSERT_GE(after.size(), before_kill.size());
  EXPECT_TRUE(std::equal(before_kill.begin(), before_kill.end(), after.begin()));
  // Each combination exactly once (a redone one would appear twice), and the same set as the whole run.
  const auto final_ids = ids_of(read_results(log));
  EXPECT_EQ(final_ids.size(), kSweepCombinations);
  EXPECT_EQ(final_ids, whole);
  // Same verdicts as the uninterrupted run, and report.json counts every combination, old and new.
  EXPECT_EQ(verdicts_by_id(read_results(log)), verdicts_by_id(read_results(dir / "whole/results.jsonl")));
  const auto report = nlohmann::json::parse(read_text(dir / "out/report.json"));
  EXPECT_EQ(report.at("results").size(), kSweepCombinations);
  EXPECT_FALSE(report.at("interrupted").get<bool>());
}

TEST(MatrixResume, InterruptExits130WithPartialReports) {
  ScratchDir dir;
  write_case(dir / "cases", sweep_case());
  MxguardProcess child({"matrix", "--cases", "cases", "--out", "out", "--jobs", "1"}, dir.path(), dir.path());
  ASSERT_TRUE(wait_for_lines(dir / "out/results.jsonl", 5, child, 60s)) << "the run ended before the interrupt";
  child.send(SIGINT);
  const auto run = child.wait();
  ASSERT_TRUE(run.exited) << "SIGINT must end the run through its handler, not kill it; signal "
                          << run.term_signal << "\n" << run.err;
  EXPECT_EQ(run.exit_code, 130) << run.err;
  EXPECT_NE(run.err.find("rerun with --resume"), std::string::npos) << run.err;

  const auto finished = read_results(dir / "out/results.jsonl");
  ASSERT_GE(finished.size(), 5u);
  ASSERT_LT(finished.size(), kSweepCombinations) << "the interrupt came too late to leave a partial run";

  // report.json: marked interrupted, holding exactly the finished combinations.
  const auto report = nlohmann::json::parse(read_text(dir / "out/report.json"));
  EXPECT_TRUE(report.at("interrupted").get<bool>());
  std::multiset<std::string> report_ids;
  for (const auto& r : report.at("results")) report_ids.insert(r.at("id").get<std::string>());
  EXPECT_EQ(report_ids, ids_of(finished));

  // junit.xml: well-formed, one testcase per finished combination.
  pugi::xml_document junit;
  ASSERT_TRUE(junit.load_file((dir / "out/junit.xml").c_str())) << "junit.xml does not parse";
  EXPECT_EQ(junit.child("testsuites").attribute("tests").as_llong(), static_cast<long long>(finished.size()));
  EXPECT_EQ(junit.select_nodes("//testcase").size(), finished.size());

  // summary.md says the run is partial.
  EXPECT_NE(read_text(dir / "out/summary.md").find("**Interrupted**"), std::string::npos);

  // And the partial run resumes to completion.
  const auto resumed = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--jobs", "2", "--resume"}, dir.path());
  ASSERT_TRUE(resumed.exited) << resumed.err;
  EXPECT_EQ(resumed_count(resumed.err), static_cast<long>(finished.size()));
  const auto all = ids_of(read_results(dir / "out/results.jsonl"));
  EXPECT_EQ(all.size(), kSweepCombinations);
  EXPECT_EQ(as_set(all).size(), kSweepCombinations);
}

TEST(MatrixResume, ResumeWithMutantsDoesNotRepeatMutantRuns) {
  // Regression: --resume --mutants re-ran every mutant combination and appended it again, so the
  // log held duplicates and the mutation score counted each detection twice.
  ScratchDir dir;
  write_case(dir / "cases", TinyCase{});
  const auto first = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--mutants"}, dir.path());
  ASSERT_TRUE(first.exited) << first.err;
  const auto before = complete_lines(dir / "out/results.jsonl");
  ASSERT_GT(before.size(), 1u) << "expected the combination plus its mutant runs";
  const auto first_report = nlohmann::json::parse(read_text(dir / "out/report.json"));

  const auto again = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--mutants", "--resume"}, dir.path());
  ASSERT_TRUE(again.exited) << again.err;
  EXPECT_EQ(again.exit_code, first.exit_code);
  EXPECT_EQ(resumed_count(again.err), static_cast<long>(before.size()));
  EXPECT_EQ(complete_lines(dir / "out/results.jsonl"), before) << "a finished run resumed must add nothing";
  const auto report = nlohmann::json::parse(read_text(dir / "out/report.json"));
  EXPECT_EQ(report.at("results").size(), before.size());
  EXPECT_EQ(report.at("mutants"), first_report.at("mutants"));
}

TEST(MatrixResume, ErrorsAreRunAgainOnResume) {
  ScratchDir dir;
  write_case(dir / "cases", TinyCase{}.sweep("is_shuffled", nlohmann::json::array({true, false})));
  const auto broken = run_mxguard(
      {"matrix", "--cases", "cases", "--out", "out", "--backend", "external", "--kernel-cmd", "false {in} {out}"},
      dir.path());
  ASSERT_EQ(broken.exit_code, 3) << broken.err;
  const auto resumed = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--resume"}, dir.path());
  ASSERT_TRUE(resumed.exited) << resumed.err;
  EXPECT_EQ(resumed_count(resumed.err), 0) << resumed.err;
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  // The log keeps the history (2 ERROR lines, then the 2 re-runs); the report holds only the re-runs.
  const auto log = read_results(dir / "out/results.jsonl");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].verdict, "ERROR");
  EXPECT_EQ(log[1].verdict, "ERROR");
  const auto report = nlohmann::json::parse(read_text(dir / "out/report.json"));
  std::multiset<std::string> verdicts;
  for (const auto& r : report.at("results")) verdicts.insert(r.at("verdict").get<std::string>());
  EXPECT_EQ(verdicts, (std::multiset<std::string>{"PASS", "CAUGHT"}));
}

}  // namespace
}  // namespace mxg::matrix::testing
