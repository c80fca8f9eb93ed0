// `mxguard matrix` options end to end: --list, --filter with '!' exclusions, bad case paths and
// files (exit 2 naming the file), unknown backends, and the GitHub step summary.
#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// 2 ranks x 2 token counts x 2 routings = 8 instances, each 2 weight shuffles x 2 flags = 4 combinations.
TinyCase grid_case() {
  TinyCase c;
  c.name = "grid";
  c.tp = 2;
  c.ranks = {0, 1};
  c.tokens = {1, 4};
  c.routing = {"uniform", "skewed"};
  c.sweep("weight_shuffle", nlohmann::json::array({"none", "separated-tiles"}));
  c.sweep("is_shuffled", nlohmann::json::array({true, false}));
  return c;
}

std::string grid_id(const TinyCase& c, int rank, int tokens, const std::string& routing, const std::string& wshuf,
                    bool flag) {
  return instance_id(c, rank, tokens, routing) + combination_suffix("deinterleaved", wshuf, "separated", flag, "separated");
}

// "<instance id>  (<n> combinations)" lines of --list, as instance id -> n.
std::map<std::string, int> listed_instances(const std::string& out) {
  std::map<std::string, int> listed;
  static const std::regex line(R"(^(\S+)  \((\d+) combinations\)$)");
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) listed[m[1]] = std::stoi(m[2]);
  }
  return listed;
}

TEST(MatrixCli, ListShowsEveryInstanceAndItsCombinationCountAndRunsNothing) {
  ScratchDir dir;
  const TinyCase c = grid_case();
  write_case(dir / "cases", c);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--list"}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::map<std::string, int> expected;
  for (int rank : {0, 1})
    for (int tokens : {1, 4})
      for (const char* routing : {"uniform", "skewed"}) expected[instance_id(c, rank, tokens, routing)] = 4;
  EXPECT_EQ(listed_instances(run.out), expected) << run.out;
  EXPECT_TRUE(contains(run.out, "8 instances, 32 combinations\n")) << run.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out")) << "--list must not run or write anything";
}

TEST(MatrixCli, FilterIncludesByGlobAndExcludesWithBang) {
  ScratchDir dir;
  const TinyCase c = grid_case();
  write_case(dir / "cases", c);
  // Flag on, but not the decode-of-one-token instances: 4 instances x 2 weight shuffles.
  const std::vector<std::string> filters{"--filter", "*/flag=1/*", "--filter", "!*/T=1/*"};
  std::set<std::string> expected;
  for (int rank : {0, 1})
    for (const char* routing : {"uniform", "skewed"})
      for (const char* wshuf : {"none", "separated-tiles"}) expected.insert(grid_id(c, rank, 4, routing, wshuf, true));

  std::vector<std::string> list_args{"matrix", "--cases", "cases", "--list"};
  list_args.insert(list_args.end(), filters.begin(), filters.end());
  const auto listed = run_mxguard(list_args, dir.path());
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "4 instances, 8 combinations\n")) << listed.out;

  std::vector<std::string> run_args{"matrix", "--cases", "cases", "--out", "out"};
  run_args.insert(run_args.end(), filters.begin(), filters.end());
  const auto run = run_mxguard(run_args, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> ran;
  for (const auto& r : read_results(dir / "out/results.jsonl")) ran.insert(r.id);
  EXPECT_EQ(ran, expected);
}

TEST(MatrixCli, ExclusionAloneKeepsEverythingElse) {
  ScratchDir dir;
  const TinyCase c = grid_case();
  write_case(dir / "cases", c);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--list", "--filter", "!*/wshuf=none/*"}, dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "8 instances, 16 combinations\n")) << run.out;
}

TEST(MatrixCli, FilterThatSelectsNothingIsAnInputError) {
  // An empty selection would be a green run that tested nothing (a typo in CI's --filter).
  ScratchDir dir;
  write_case(dir / "cases", grid_case());
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--filter", "*gptoss*"}, dir.path());
  ASSERT_TRUE(run.exited);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "--filter '*gptoss*'")) << run.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/results.jsonl"));
}

// A bad --cases input: exit 2 and one stderr line that starts with the offending file.
void expect_input_error_naming(const ScratchDir& dir, const std::string& cases_arg, const std::string& detail) {
  const auto run = run_mxguard({"matrix", "--cases", cases_arg, "--out", "out"}, dir.path());
  ASSERT_TRUE(run.exited);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "mxguard: error: " + cases_arg)) << run.err;
  EXPECT_TRUE(contains(run.err, detail)) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << "one line: " << run.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out")) << "nothing is written for bad input";
}

TEST(MatrixCli, MissingCasePathExitsTwoNamingIt) {
  ScratchDir dir;
  expect_input_error_naming(dir, "no-such-cases/missing.json", "no such case file");
}

TEST(MatrixCli, CaseFileThatIsNotJsonExitsTwoNamingItsLine) {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "cases");
  std::ofstream(dir / "cases/broken.json") << "{\n  \"name\": \"broken\",\n  \"tier\": \n}\n";
  expect_input_error_naming(dir, "cases/broken.json", "cases/broken.json:4:");
}

TEST(MatrixCli, CaseFileThatBreaksTheSchemaExitsTwoNamingTheField) {
  ScratchDir dir;
  TinyCase c;
  c.nmse = -1;  // the schema requires a positive tolerance
  write_case(dir / "cases", c);
  expect_input_error_naming(dir, "cases/tiny.json", "/tolerance/nmse");
}

TEST(MatrixCli, DirectoryWithoutCaseFilesExitsTwoNamingIt) {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "empty");
  expect_input_error_naming(dir, "empty", "no *.json case files");
}

TEST(MatrixCli, UnknownBackendExitsTwoListingTheKnownOnes) {
  ScratchDir dir;
  write_case(dir / "cases", TinyCase{});
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--backend", "no-such-backend"}, dir.path());
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "no-such-backend")) << run.err;
  EXPECT_TRUE(contains(run.err, "host")) << run.err;
}

TEST(MatrixCli, IsolatedRunsRecordTheRealKernelAndDevice) {
  // With --isolate every combination runs in a child `mxguard kernel run`; the results must still
  // name the backend's own kernel and device (the same as an in-process run), not the wrapper.
  ScratchDir dir;
  write_case(dir / "cases", grid_case());
  const auto direct = run_mxguard({"matrix", "--cases", "cases", "--out", "direct", "--filter", "*T=1/*"}, dir.path());
  const auto isolated =
      run_mxguard({"matrix", "--cases", "cases", "--out", "isolated", "--isolate", "--filter", "*T=1/*"}, dir.path());
  ASSERT_TRUE(direct.exited && isolated.exited) << direct.err << isolated.err;
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  ASSERT_EQ(isolated.exit_code, 0) << isolated.err;
  const auto in_process = read_results(dir / "direct" / "results.jsonl");
  const auto children = read_results(dir / "isolated" / "results.jsonl");
  ASSERT_FALSE(in_process.empty());
  ASSERT_EQ(children.size(), in_process.size());
  for (const auto& r : children) {
    EXPECT_EQ(r.json.at("backend"), in_process.front().json.at("backend")) << r.id;
    EXPECT_EQ(r.json.at("kernel"), in_process.front().json.at("kernel")) << r.id;
    const std::string device = r.json.at("device");
    EXPECT_TRUE(contains(device, in_process.front().json.at("device").get<std::string>())) << device;
    EXPECT_TRUE(contains(device, "isolated")) << device;
  }
}

TEST(MatrixCli, StepSummaryIsAppendedWhenGithubStepSummaryIsSet) {
  ScratchDir dir;
  write_case(dir / "cases", TinyCase{});
  const auto step_summary = dir / "step_summary.md";
  std::ofstream(step_summary) << "earlier step's text";
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path(),
                               {"GITHUB_STEP_SUMMARY=" + step_summary.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string summary = read_text(dir / "out/summary.md");
  ASSERT_FALSE(summary.empty());
  // Appended after what was there, starting on a line of its own.
  EXPECT_EQ(read_text(step_summary), "earlier step's text\n" + summary);
}

}  // namespace
}  // namespace mxg::matrix::testing
