// `mxguard merge` end to end: shards 1/3 + 2/3 + 3/3 merged equal one unsharded run (results by id,
// ignoring when and how long; totals; JUnit); a missing shard or an interrupted one is a gap (exit 3,
// or the verdict's with --allow-gaps); the same id with another outcome in two inputs is refused.
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// 2 ranks x 2 token counts x 2 routings x (3 weight shuffles x 2 flags) = 48 combinations with
// PASS and CAUGHT among them.
TinyCase merge_case() {
  TinyCase c;
  c.name = "merge";
  c.tp = 2;
  c.ranks = {0, 1};
  c.tokens = {1, 4};
  c.routing = {"uniform", "skewed"};
  c.sweep("weight_shuffle", nlohmann::json::array({"none", "separated-tiles", "interleaved-tiles"}));
  c.sweep("is_shuffled", nlohmann::json::array({true, false}));
  return c;
}

// id -> the result without the fields that differ between two runs of the same combination.
std::map<std::string, nlohmann::json> comparable_results(const std::filesystem::path& results_jsonl) {
  std::map<std::string, nlohmann::json> out;
  for (auto& r : read_results(results_jsonl)) {
    r.json.erase("seconds");
    EXPECT_TRUE(out.emplace(r.id, r.json).second) << "duplicate " << r.id;
  }
  return out;
}

nlohmann::json report_totals(const std::filesystem::path& dir) {
  std::ifstream in(dir / "report.json");
  return nlohmann::json::parse(in).at("totals");
}

int testcases_in(const std::filesystem::path& junit) {
  const std::string xml = read_text(junit);
  int n = 0;
  for (std::size_t at = xml.find("<testcase"); at != std::string::npos; at = xml.find("<testcase", at + 1)) ++n;
  return n;
}

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_case(dir_ / "cases", merge_case());
    const auto whole = run_mxguard({"matrix", "--cases", "cases", "--out", "whole"}, dir_.path());
    ASSERT_EQ(whole.exit_code, 0) << whole.err;
    for (const char* k : {"1", "2", "3"}) {
      const auto part = run_mxguard(
          {"matrix", "--cases", "cases", "--out", std::string("s") + k, "--shard", std::string(k) + "/3"}, dir_.path());
      ASSERT_EQ(part.exit_code, 0) << part.err;
    }
  }
  ScratchDir dir_;
};

TEST_F(MergeTest, ThreeShardsMergedEqualTheUnshardedRun) {
  const auto merged = run_mxguard({"merge", "s3", "s1", "s2", "--out", "merged"}, dir_.path());
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_TRUE(contains(merged.err, "no gaps")) << merged.err;
  const auto whole = comparable_results(dir_ / "whole/results.jsonl");
  ASSERT_EQ(whole.size(), 48u);
  // The shards really split the work (each holds some, none holds all).
  for (const char* s : {"s1", "s2", "s3"}) {
    const auto n = read_results(dir_ / s / "results.jsonl").size();
    EXPECT_GT(n, 0u);
    EXPECT_LT(n, 48u);
  }
  EXPECT_EQ(comparable_results(dir_ / "merged/results.jsonl"), whole);
  EXPECT_EQ(report_totals(dir_ / "merged"), report_totals(dir_ / "whole"));
  EXPECT_EQ(testcases_in(dir_ / "merged/junit.xml"), testcases_in(dir_ / "whole/junit.xml"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "merged/summary.md"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "merged/report.html"));
}

TEST_F(MergeTest, AMissingShardIsAGapThatFailsUnlessAllowed) {
  const auto merged = run_mxguard({"merge", "s1", "s3", "--out", "merged"}, dir_.path());
  EXPECT_EQ(merged.exit_code, 3) << merged.err;
  EXPECT_TRUE(contains(merged.err, "shard 2/3 is missing")) << merged.err;
  const auto allowed = run_mxguard({"merge", "s1", "s3", "--out", "merged2", "--allow-gaps"}, dir_.path());
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_TRUE(contains(allowed.err, "shard 2/3 is missing")) << allowed.err;
}

TEST_F(MergeTest, AShardWithFewerResultsThanPlannedIsAGap) {
  // A job killed mid-run: its log lost its last results (and its header says how many it planned).
  const auto lines = complete_lines(dir_ / "s2/results.jsonl");
  ASSERT_GT(lines.size(), 2u);
  std::filesystem::remove(dir_ / "s2/results.jsonl.gz");
  std::ofstream cut(dir_ / "s2/results.jsonl");
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) cut << lines[i] << "\n";
  cut.close();
  const auto merged = run_mxguard({"merge", "s1", "s2", "s3", "--out", "merged"}, dir_.path());
  EXPECT_EQ(merged.exit_code, 3) << merged.err;
  EXPECT_TRUE(contains(merged.err, "shard 2/3 holds " + std::to_string(lines.size() - 2) + " of its " +
                                       std::to_string(lines.size()) + " combinations"))
      << merged.err;
}

TEST_F(MergeTest, TheSameIdTwiceCountsOnceButAConflictingOutcomeIsRefused) {
  const auto twice = run_mxguard({"merge", "s1", "s2", "s3", "s1", "--out", "merged"}, dir_.path());
  EXPECT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_EQ(comparable_results(dir_ / "merged/results.jsonl").size(), 48u);

  // A copy of shard 1 whose first result says FAIL instead.
  std::filesystem::create_directories(dir_ / "conflict");
  auto lines = complete_lines(dir_ / "s1/results.jsonl");
  auto first = nlohmann::json::parse(lines.at(0));
  const std::string id = first.at("id");
  first["verdict"] = "FAIL";
  lines[0] = first.dump();
  std::ofstream out(dir_ / "conflict/results.jsonl");
  for (const auto& l : lines) out << l << "\n";
  out.close();
  const auto refused = run_mxguard({"merge", "s1", "s2", "s3", "conflict", "--out", "merged3"}, dir_.path());
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_TRUE(contains(refused.err, "'" + id + "'")) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "merged3/report.json")) << "nothing is written on a conflict";
}

// With at least 4 instances a part, each instance goes whole to one part (its inputs and reference
// are computed once in the whole run), and the merged parts still equal the unsharded run.
TEST(MergeWholeInstances, EveryInstanceLandsInExactlyOnePart) {
  ScratchDir dir;
  TinyCase c = merge_case();
  c.tokens = {1, 2, 3, 4};  // 2 ranks x 4 token counts x 2 routings = 16 instances >= 4 x 2 parts
  c.sweep("weight_shuffle", nlohmann::json::array({"none", "separated-tiles"}));
  write_case(dir / "cases", c);
  ASSERT_EQ(run_mxguard({"matrix", "--cases", "cases", "--out", "whole"}, dir.path()).exit_code, 0);
  std::map<std::string, std::set<std::string>> parts_of_instance;  // instance id -> parts holding it
  for (const char* k : {"1", "2"}) {
    const auto part = run_mxguard(
        {"matrix", "--cases", "cases", "--out", std::string("p") + k, "--shard", std::string(k) + "/2"}, dir.path());
    ASSERT_EQ(part.exit_code, 0) << part.err;
    const auto results = read_results(dir / (std::string("p") + k) / "results.jsonl");
    EXPECT_GE(results.size(), 4u * 4u) << "a part holds at least a quarter of the 16 instances";
    for (const auto& r : results) parts_of_instance[r.id.substr(0, r.id.find("/prep="))].insert(k);
  }
  EXPECT_EQ(parts_of_instance.size(), 16u);
  for (const auto& [instance, parts] : parts_of_instance) EXPECT_EQ(parts.size(), 1u) << instance;
  ASSERT_EQ(run_mxguard({"merge", "p1", "p2", "--out", "merged"}, dir.path()).exit_code, 0);
  EXPECT_EQ(comparable_results(dir / "merged/results.jsonl"), comparable_results(dir / "whole/results.jsonl"));
}

}  // namespace
}  // namespace mxg::matrix::testing
