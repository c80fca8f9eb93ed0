// Replaying one combination end to end: every non-PASS entry of summary.md ends with a command that,
// run as printed, reruns exactly that id with the same outcome; --only-id refuses an unknown id;
// --write-problem writes a problem file and reference that the kernel CLI and `compare` reproduce the
// matrix's NMSE from; and the external backend names each problem file by its combination id.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
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

// Two weight shuffles x two flags, loose tolerance: the two derived-inconsistent reads come out BLIND
// (non-PASS, listed in summary.md), the consistent ones PASS.
TinyCase blind_case() {
  TinyCase c;
  c.name = "replay";
  c.tokens = {2, 4};
  c.sweep("weight_shuffle", nlohmann::json::array({"none", "separated-tiles"}));
  c.sweep("is_shuffled", nlohmann::json::array({true, false}));
  c.loose();
  return c;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

struct ReplayEntry {
  std::string verdict, id, command;
};

// "### VERDICT `id`" entries of summary.md with the command of their "- Replay: `...`" line, which
// must be the entry's last line.
std::vector<ReplayEntry> replay_entries(const std::string& summary) {
  std::vector<ReplayEntry> entries;
  std::istringstream in(summary);
  static const std::regex heading(R"(^### (\w+) `(.+)`$)"), replay(R"(^- Replay: `(.+)`$)");
  std::string line, last_bullet;
  for (; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, heading)) entries.push_back({m[1], m[2], ""});
    if (!entries.empty() && line.starts_with("- ")) last_bullet = line;
    if (!entries.empty() && line.empty() && !last_bullet.empty()) {
      if (std::regex_match(last_bullet, m, replay)) entries.back().command = m[1];
      last_bullet.clear();
    }
  }
  return entries;
}

TEST(MatrixReplay, EveryNonPassEntryEndsWithACommandThatRerunsExactlyIt) {
  ScratchDir dir;
  write_case(dir / "cases", blind_case());
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path());
  ASSERT_EQ(run.exit_code, 1) << run.err;  // BLIND is a regression
  std::map<std::string, ResultLine> by_id;
  for (auto& r : read_results(dir / "out/results.jsonl")) by_id[r.id] = r;
  const auto entries = replay_entries(read_text(dir / "out/summary.md"));
  std::set<std::string> non_pass;
  for (const auto& [id, r] : by_id)
    if (r.verdict != "PASS" && r.verdict != "CAUGHT") non_pass.insert(id);
  ASSERT_GE(non_pass.size(), 2u);  // at least the separated tiles read with the flag lost, at both token counts
  ASSERT_EQ(entries.size(), non_pass.size());
  for (const auto& e : entries) {
    SCOPED_TRACE(e.id);
    ASSERT_FALSE(e.command.empty()) << "the entry does not end with a Replay line";
    ASSERT_TRUE(e.command.starts_with("mxguard matrix ")) << e.command;
    EXPECT_TRUE(contains(e.command, "--only-id " + quoted(e.id))) << e.command;
    // Run it as printed, with `mxguard` the binary under test, in a fresh folder so nothing is reused.
    const std::string shell = "unset GITHUB_STEP_SUMMARY; mxguard() { " + quoted(mxguard_binary().string()) + " \"$@\"; }; " + e.command;
    const int rc = std::system(("cd " + quoted(dir.path().string()) + " && rm -rf mxguard-replay && (" + shell +
                                ") >/dev/null 2>&1")
                                   .c_str());
    EXPECT_EQ(WEXITSTATUS(rc), 1);
    const auto again = read_results(dir / "mxguard-replay/results.jsonl");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, e.id);
    EXPECT_EQ(again[0].verdict, by_id[e.id].verdict);
    EXPECT_EQ(again[0].json.at("metrics"), by_id[e.id].json.at("metrics"));
  }
}

TEST(MatrixReplay, OnlyIdOfAnUnknownCombinationIsAnInputErrorNamingIt) {
  ScratchDir dir;
  write_case(dir / "cases", blind_case());
  const std::string bogus = instance_id(blind_case(), 0, 2, "uniform") + "/prep=nonsense";
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--only-id", bogus}, dir.path());
  ASSERT_TRUE(run.exited);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "--only-id: '" + bogus + "'")) << run.err;
}

double nmse_of_compare(const std::string& json_text) { return nlohmann::json::parse(json_text).at("nmse").get<double>(); }

TEST(MatrixReplay, WrittenProblemAndReferenceReproduceTheMatrixNmse) {
  ScratchDir dir;
  write_case(dir / "cases", blind_case());
  ASSERT_EQ(run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path()).exit_code, 1);
  std::map<std::string, ResultLine> by_id;
  for (auto& r : read_results(dir / "out/results.jsonl")) by_id[r.id] = r;
  // One PASS and one BLIND combination (the inconsistent read the loose tolerance lets through), each
  // with a finite NMSE to reproduce.
  std::vector<std::string> ids;
  for (const char* verdict : {"PASS", "BLIND"}) {
    for (const auto& [id, r] : by_id) {
      if (r.verdict == verdict && r.json.at("metrics").at("nmse").is_number()) {
        ids.push_back(id);
        break;
      }
    }
  }
  ASSERT_EQ(ids.size(), 2u);
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    const bool consistent = by_id[id].verdict == "PASS";
    const auto wrote =
        run_mxguard({"matrix", "--cases", "cases", "--write-problem", id, "--out", "keep/p.safetensors"}, dir.path());
    ASSERT_EQ(wrote.exit_code, 0) << wrote.err;
    ASSERT_TRUE(std::filesystem::exists(dir / "keep/p.safetensors"));
    ASSERT_TRUE(std::filesystem::exists(dir / "keep/p.reference.safetensors"));
    EXPECT_FALSE(std::filesystem::exists(dir / "keep/results.jsonl")) << "--write-problem must run nothing";
    const auto kernel = run_mxguard(
        {"kernel", "run", "--backend", "host", "--in", "keep/p.safetensors", "--out", "keep/y.safetensors"}, dir.path());
    ASSERT_EQ(kernel.exit_code, 0) << kernel.err;
    const auto cmp = run_mxguard(
        {"compare", "keep/y.safetensors", "keep/p.reference.safetensors", "--tensor", "y", "--json"}, dir.path());
    ASSERT_TRUE(cmp.exited) << cmp.err;
    const double expected = by_id[id].json.at("metrics").at("nmse").get<double>();
    const double got = nmse_of_compare(cmp.out);
    EXPECT_NEAR(got, expected, 1e-9 + 1e-6 * std::abs(expected)) << cmp.out;
    if (!consistent) EXPECT_GT(got, 1e-2);  // the inconsistent read really is wrong
  }
}

TEST(MatrixReplay, ExternalBackendNamesEachProblemFileByItsCombinationId) {
  // The documented way to keep a run's inputs: wrap the command with `cp {in} keep/`.
  ScratchDir dir;
  write_case(dir / "cases", blind_case());
  std::filesystem::create_directories(dir / "keep");
  const std::string adapter =
      "MXGUARD=" + quoted(mxguard_binary().string()) + " " + quoted(MXG_TEST_HOST_ADAPTER_SH) + " {in} {out}";
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--backend", "external", "--jobs", "2",
                                "--kernel-cmd", "cp {in} keep/ && " + adapter},
                               dir.path());
  ASSERT_EQ(run.exit_code, 1) << run.err;
  std::set<std::string> expected, kept;
  for (const auto& r : read_results(dir / "out/results.jsonl")) {
    std::string name = r.id;
    for (char& ch : name)
      if (ch == '/') ch = '~';
    expected.insert(name + ".safetensors");
  }
  for (const auto& e : std::filesystem::directory_iterator(dir / "keep")) kept.insert(e.path().filename().string());
  EXPECT_EQ(kept, expected);
}

}  // namespace
}  // namespace mxg::matrix::testing
