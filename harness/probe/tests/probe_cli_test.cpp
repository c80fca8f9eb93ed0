// End-to-end tests of the `mxguard probe` and `mxguard standin` binaries as CI runs them: a stand-in
// process, the probe against it, exit codes (plain and --bisect), outputs, interrupt and resume.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "harness/matrix/tests/mxguard_process.hpp"
#include "harness/probe/tests/refusing_port.hpp"

namespace mxg::probe::testing {
namespace {

using matrix::testing::MxguardProcess;
using matrix::testing::read_text;
using matrix::testing::run_mxguard;

class ProbeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("mxg-probe-cli-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    data = (dir / "data.jsonl").string();
    const auto made = run_mxguard({"standin", "--make-data", "80", "--seed", "2", "--out", data}, dir);
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  // Starts `mxguard standin` on an ephemeral port and returns its URL, read from its first line.
  std::string start_standin(std::vector<std::string> extra) {
    // More threads than the probe's 64 connections: a keep-alive connection holds a server thread.
    std::vector<std::string> args{"standin", "--port", "0", "--data", data, "--threads", "96"};
    args.insert(args.end(), extra.begin(), extra.end());
    standin = std::make_unique<MxguardProcess>(args, dir, dir);
    const std::regex listening(R"(listening on (http://127\.0\.0\.1:\d+))");
    for (int i = 0; i < 200; ++i) {
      std::smatch m;
      const std::string out = read_text(standin->stdout_path());
      if (std::regex_search(out, m, listening)) return m[1];
      if (!standin->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "the stand-in did not print its address";
    return "http://127.0.0.1:1";
  }

  std::vector<std::string> probe_args(const std::string& url, const std::string& out) {
    return {"probe", "--base-url", url, "--data", data, "--num-questions", "60", "--out", (dir / out).string(),
            "--retry-delay", "0.01"};
  }

  std::filesystem::path dir;
  std::string data;
  std::unique_ptr<MxguardProcess> standin;
};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(ProbeCli, PassPrintsSglangLinesAndWritesEveryReport) {
  const std::string url = start_standin({"--accuracy", "0.9"});
  const auto r = run_mxguard(probe_args(url, "out"), dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(Accuracy: 0\.\d{3}\nInvalid: 0\.\d{3}\nLatency: \d+\.\d{3} s\n)"
                                                  R"(Output throughput: \d+\.\d{3} token/s\n)")))
      << r.out;
  const auto summary = nlohmann::json::parse(read_text(dir / "out" / "probe.json"));
  EXPECT_EQ(summary["verdict"], "PASS");
  EXPECT_EQ(summary["answered"], 60);
  EXPECT_EQ(summary["server"]["model"], "mxguard/standin-gsm8k");
  pugi::xml_document junit;
  EXPECT_TRUE(junit.load_file((dir / "out" / "junit.xml").c_str()));
  EXPECT_EQ(junit.child("testsuites").child("testsuite").attribute("failures").as_int(), 0);
  // The standin stops cleanly on SIGTERM.
  standin->send(SIGTERM);
  const auto s = standin->wait();
  EXPECT_TRUE(s.exited);
  EXPECT_EQ(s.exit_code, 0);
}

TEST_F(ProbeCli, ExitCodesPlainAndForGitBisect) {
  const std::string url = start_standin({"--accuracy", "0.3"});
  EXPECT_EQ(run_mxguard(plus(probe_args(url, "low"), {"--min-accuracy", "0.79"}), dir).exit_code, 1);
  EXPECT_EQ(run_mxguard(plus(probe_args(url, "lowb"), {"--min-accuracy", "0.79", "--bisect"}), dir).exit_code, 1);
  EXPECT_EQ(run_mxguard(plus(probe_args(url, "ok"), {"--min-accuracy", "0.1", "--bisect"}), dir).exit_code, 0);
  // Nothing listens: infrastructure (3); for bisect an abort (129), or a skip (125) when the server
  // never became ready (this commit's server did not come up, like a failed build).
  const RefusingPort closed;
  EXPECT_EQ(run_mxguard(probe_args(closed.url(), "down"), dir).exit_code, 3);
  EXPECT_EQ(run_mxguard(plus(probe_args(closed.url(), "downb"), {"--bisect"}), dir).exit_code, 129);
  EXPECT_EQ(run_mxguard(plus(probe_args(closed.url(), "nr"), {"--bisect", "--wait-ready", "0.3"}), dir).exit_code, 125);
  // Bad input: 2, and never "bad commit" under bisect.
  auto bad = probe_args(url, "bad");
  bad[4] = (dir / "missing.jsonl").string();
  const auto b = run_mxguard(bad, dir);
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("missing.jsonl"), std::string::npos) << b.err;
  EXPECT_EQ(run_mxguard(plus(bad, {"--bisect"}), dir).exit_code, 129);
  EXPECT_EQ(run_mxguard({"probe", "--base-url", url}, dir).exit_code, 2);  // no --data
}

TEST_F(ProbeCli, InterruptKeepsAnswersAndResumeFinishes) {
  const std::string url = start_standin({"--latency-ms", "30"});
  MxguardProcess probe(plus(probe_args(url, "int"), {"--parallel", "2"}), dir, dir);
  const auto log = dir / "int" / "probe.jsonl";
  ASSERT_TRUE(matrix::testing::wait_for_lines(log, 5, probe, std::chrono::seconds(20)));
  probe.send(SIGINT);
  const auto r = probe.wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  const auto kept = matrix::testing::complete_lines(log).size();
  EXPECT_GE(kept, 5u);
  EXPECT_LT(kept, 60u);
  const auto resumed = run_mxguard(plus(probe_args(url, "int"), {"--resume", "--parallel", "16"}), dir);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find(std::to_string(kept) + " answered questions reused"), std::string::npos) << resumed.err;
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "int" / "probe.json"))["answered"], 60);
}

TEST_F(ProbeCli, HelpTeachesAndSimulateReproducesTheDocumentedCost) {
  const auto h = run_mxguard({"probe", "--help"}, dir);
  EXPECT_EQ(h.exit_code, 0);
  for (const char* s : {"--stop", "--baseline", "--bisect", "Exit:", "fetch-data", "simulate"}) {
    EXPECT_NE(h.out.find(s), std::string::npos) << s;
  }
  const auto sim = run_mxguard({"probe", "simulate", "--p-true", "0.88", "--p-true", "0.21", "--runs", "2000"}, dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  // PROBE.md: about 5.3 questions for a healthy server and 4.7 for the collapsed one.
  EXPECT_TRUE(std::regex_search(sim.out, std::regex(R"(\n\s*0\.880\s+5\.[23]\d)"))) << sim.out;
  EXPECT_TRUE(std::regex_search(sim.out, std::regex(R"(\n\s*0\.210\s+4\.[67]\d)"))) << sim.out;
}

TEST_F(ProbeCli, WithoutAnyGateOptionAServerThatAnswersEverythingWrongFails) {
  // The default rule is the gate: no option turns it off, and an all-wrong server fails in a few questions.
  const std::string url = start_standin({"--accuracy", "0"});
  const auto r = run_mxguard({"probe", "--base-url", url, "--data", data, "--num-questions", "80", "--out",
                              (dir / "wrong").string(), "--retry-delay", "0.01"},
                             dir);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto summary = nlohmann::json::parse(read_text(dir / "wrong" / "probe.json"));
  EXPECT_EQ(summary["verdict"], "REGRESSION");
  EXPECT_EQ(summary["stop_rule"], "gate");
  EXPECT_EQ(summary["gate"]["stop"], "collapse");
  EXPECT_LE(summary["gate"]["observations"].get<int>(), 6);
  EXPECT_EQ(summary["answered"], summary["gate"]["observations"]);  // the numbers beside the verdict are its own
}

TEST_F(ProbeCli, EveryGateOptionIsRangeCheckedNanAndNegativeIncluded) {
  // Before the fix a negative or NaN --min-accuracy silently turned the threshold off.
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad{
      {{"--min-accuracy", "-0.79"}, "--min-accuracy"},
      {{"--min-accuracy", "nan"}, "--min-accuracy"},
      {{"--min-accuracy", "1.5"}, "--min-accuracy"},
      {{"--stop", "fixed"}, "--stop fixed needs"},
      {{"--stop", "gate", "--min-accuracy", "0.79"}, "--min-accuracy"},
      {{"--p-good", "nan"}, "--p-good"},
      {{"--p-bad", "0.95"}, "--p-bad"},
      {{"--gate-alpha", "nan"}, "--gate-alpha"},
      {{"--gate-alpha", "-1"}, "--gate-alpha"},
      {{"--collapse-alpha", "0.5"}, "--collapse-alpha"},
      {{"--alpha", "nan"}, "--alpha"},
      {{"--beta", "inf"}, "--beta"},
      {{"--paired-alpha", "nan"}, "--paired-alpha"},
      {{"--max-error-rate", "nan"}, "--max-error-rate"},
  };
  for (const auto& [args, named] : bad) {
    const auto r = run_mxguard(plus({"probe", "--base-url", "http://127.0.0.1:1", "--data", data, "--num-questions",
                                     "60", "--out", (dir / "bad").string()},
                                    args),
                               dir);
    EXPECT_EQ(r.exit_code, 2) << args.front() << " " << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace mxg::probe::testing
