// The matrix over persistent workers (external protocol v2), end to end: a worker that crashes,
// hangs, answers garbage, leaks memory or refuses on one chosen combination costs exactly that
// combination (one ERROR naming why, with its stderr) and the run completes with every other verdict
// as an in-process run gives it; the Python host adapter in both protocol versions gives the host
// backend's exact numbers; --isolate and --devices start one worker per job, never one per combination.
#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// One instance, 8 combinations: weight shuffle x is_shuffled x gate mode.
TinyCase worker_case() {
  TinyCase c;
  c.name = "worker";
  c.sweep("weight_shuffle", nlohmann::json::array({"none", "separated-tiles"}));
  c.sweep("is_shuffled", nlohmann::json::array({true, false}));
  c.sweep("gate_mode", nlohmann::json::array({"separated", "interleave"}));
  return c;
}

const std::string kChosen = instance_id(worker_case(), 0, 4, "uniform") +
                            combination_suffix("deinterleaved", "none", "separated", false, "separated");

std::vector<std::string> environment() { return {"MXGUARD=" + mxguard_binary().string()}; }

int count_lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
  return n;
}

class WorkerMatrix : public ::testing::Test {
 protected:
  void SetUp() override { write_case(dir_ / "cases", worker_case()); }

  // The verdicts of the same cases run in process, the expectation every worker run must meet.
  std::map<std::string, std::string> in_process_verdicts() {
    const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "direct"}, dir_.path());
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return verdicts_by_id(read_results(dir_ / "direct" / "results.jsonl"));
  }

  ProcessOutcome run_worker(const std::string& worker_args, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"matrix", "--cases", "cases", "--out", "worker", "--jobs", "1",
                                     "--backend", "external", "--kernel-worker",
                                     quoted(MXG_TEST_PYTHON) + " " + quoted(MXG_TEST_FAULT_ADAPTER) + " --worker " +
                                         worker_args};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_mxguard(args, dir_.path(), environment());
  }

  // Exactly one ERROR, for the chosen combination, whose message says `why`; every other verdict
  // as in process; exit 3 (only an infrastructure error, no regression).
  void expect_one_error(const ProcessOutcome& run, const std::string& why) {
    ASSERT_TRUE(run.exited) << run.err;
    EXPECT_EQ(run.exit_code, 3) << run.err;
    const auto expected = in_process_verdicts();
    const auto results = read_results(dir_ / "worker" / "results.jsonl");
    ASSERT_EQ(results.size(), expected.size()) << run.err;
    int errors = 0;
    for (const auto& r : results) {
      if (r.id == kChosen) {
        EXPECT_EQ(r.verdict, "ERROR") << r.message;
        EXPECT_TRUE(contains(r.message, why)) << r.message;
        ++errors;
      } else {
        EXPECT_EQ(r.verdict, expected.at(r.id)) << r.id << ": " << r.message;
      }
    }
    EXPECT_EQ(errors, 1);
  }

  ScratchDir dir_;
};

TEST_F(WorkerMatrix, CrashIsOneErrorAndTheRestRunOnAFreshWorker) {
  const auto run = run_worker("--crash-on " + quoted(kChosen));
  expect_one_error(run, "exited (");  // killed by signal 9, or status 137 through a shell shim
  const auto results = read_results(dir_ / "worker" / "results.jsonl");
  const auto chosen = std::find_if(results.begin(), results.end(), [](const auto& r) { return r.id == kChosen; });
  ASSERT_NE(chosen, results.end());
  EXPECT_TRUE(contains(chosen->message, "fault_adapter: crashing on")) << chosen->message;  // its stderr tail
  EXPECT_EQ(count_lines_with(run.err, " restarted"), 1) << run.err;
}

TEST_F(WorkerMatrix, HangPastTheTimeoutIsOneError) {
  expect_one_error(run_worker("--hang-on " + quoted(kChosen), {"--timeout", "3"}), "within --timeout 3 s");
}

TEST_F(WorkerMatrix, GarbageOnTheProtocolIsOneError) {
  expect_one_error(run_worker("--garbage-on " + quoted(kChosen)), "answered garbage");
}

TEST_F(WorkerMatrix, LeakPastTheMemoryLimitIsOneError) {
  expect_one_error(run_worker("--leak-on " + quoted(kChosen) + " --leak-mib 320", {"--worker-rss-limit", "200"}),
                   "--worker-rss-limit");
}

TEST_F(WorkerMatrix, RefusalIsOneErrorAndTheWorkerStays) {
  const auto run = run_worker("--error-on " + quoted(kChosen));
  expect_one_error(run, "no kernel for");
  EXPECT_EQ(count_lines_with(run.err, " restarted"), 0) << run.err;
  EXPECT_EQ(count_lines_with(run.err, " started"), 1) << run.err;
}

TEST_F(WorkerMatrix, PythonHostAdapterGivesTheHostNumbersInBothProtocolVersions) {
  const auto direct = run_mxguard({"matrix", "--cases", "cases", "--out", "direct"}, dir_.path());
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  const std::string adapter = quoted(MXG_TEST_PYTHON) + " " + quoted(MXG_TEST_HOST_ADAPTER_PY);
  const auto v1 = run_mxguard({"matrix", "--cases", "cases", "--out", "v1", "--backend", "external", "--kernel-cmd",
                               adapter + " {in} {out}"},
                              dir_.path(), environment());
  const auto v2 = run_mxguard({"matrix", "--cases", "cases", "--out", "v2", "--backend", "external",
                               "--kernel-worker", adapter + " --worker"},
                              dir_.path(), environment());
  ASSERT_EQ(v1.exit_code, 0) << v1.err;
  ASSERT_EQ(v2.exit_code, 0) << v2.err;
  std::map<std::string, nlohmann::json> reference;
  for (const auto& r : read_results(dir_ / "direct" / "results.jsonl")) reference[r.id] = r.json.at("metrics");
  for (const char* out : {"v1", "v2"}) {
    const auto results = read_results(dir_ / out / "results.jsonl");
    ASSERT_EQ(results.size(), reference.size());
    for (const auto& r : results) EXPECT_EQ(r.json.at("metrics"), reference.at(r.id)) << out << " " << r.id;
  }
  // The v2 results name the kernel and versions from the worker's hello, not the command line.
  const auto v2_results = read_results(dir_ / "v2" / "results.jsonl");
  EXPECT_TRUE(contains(v2_results.front().json.at("kernel").get<std::string>(), "Python adapter"));
}

TEST_F(WorkerMatrix, IsolatedHostRunsOnePersistentWorkerPerJob) {
  const auto expected = in_process_verdicts();
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "iso", "--isolate", "--jobs", "2"}, dir_.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // 8 combinations, 2 jobs: two worker starts, not eight child processes.
  EXPECT_EQ(count_lines_with(run.err, "kernel worker --backend 'host'"), 2) << run.err;
  EXPECT_EQ(count_lines_with(run.err, " restarted"), 0) << run.err;
  const auto results = read_results(dir_ / "iso" / "results.jsonl");
  ASSERT_EQ(results.size(), expected.size());
  for (const auto& r : results) {
    EXPECT_EQ(r.verdict, expected.at(r.id)) << r.id;
    EXPECT_TRUE(contains(r.json.at("device").get<std::string>(), "persistent worker")) << r.json.at("device");
  }
}

TEST_F(WorkerMatrix, DevicesStartOneWorkerPerDevice) {
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "dev", "--isolate", "--devices", "0,1"},
                               dir_.path(), {"HIP_VISIBLE_DEVICES=", "CUDA_VISIBLE_DEVICES="});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(count_lines_with(run.err, "(device 0) started"), 1) << run.err;
  EXPECT_EQ(count_lines_with(run.err, "(device 1) started"), 1) << run.err;
  std::map<std::string, int> per_device;
  for (const auto& r : read_results(dir_ / "dev" / "results.jsonl")) {
    const std::string device = r.json.at("device");
    ++per_device[contains(device, "[device 0]") ? "0" : contains(device, "[device 1]") ? "1" : device];
  }
  EXPECT_EQ(per_device.size(), 2u);
  EXPECT_EQ(per_device["0"] + per_device["1"], 8);
}

TEST_F(WorkerMatrix, DevicesGiveEachVersion1CommandItsGpu) {
  // Protocol v1 under --devices: every command of job j sees only device j (a log line per combination).
  const std::string adapter = "MXGUARD=" + quoted(mxguard_binary().string()) + " " + quoted(MXG_TEST_HOST_ADAPTER_SH);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "v1dev", "--backend", "external", "--devices",
                                "0,1", "--kernel-cmd",
                                "echo \"$HIP_VISIBLE_DEVICES/$CUDA_VISIBLE_DEVICES/$MXGUARD_DEVICE\" >> seen.txt && " +
                                    adapter + " {in} {out}"},
                               dir_.path(), {"HIP_VISIBLE_DEVICES=", "CUDA_VISIBLE_DEVICES="});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::map<std::string, int> seen;
  for (const auto& line : complete_lines(dir_ / "seen.txt")) ++seen[line];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen["0/0/0"] + seen["1/1/1"], 8);
}

TEST_F(WorkerMatrix, WorkerThatCannotStartEndsTheRunWithExitThree) {
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "nostart", "--backend", "external",
                                "--kernel-worker", "echo 'ImportError: libamdhip64.so.6' >&2; exit 3"},
                               dir_.path());
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_TRUE(contains(run.err, "did not start")) << run.err;
  EXPECT_TRUE(contains(run.err, "libamdhip64.so.6")) << run.err;
}

TEST_F(WorkerMatrix, DevicesWithAnInProcessBackendIsAnInputError) {
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "dev", "--devices", "0,1"}, dir_.path());
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(contains(run.err, "--devices")) << run.err;
  const auto bad = run_mxguard({"matrix", "--cases", "cases", "--out", "dev", "--isolate", "--devices", "0,x"},
                               dir_.path());
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(contains(bad.err, "'x'")) << bad.err;
}

}  // namespace
}  // namespace mxg::matrix::testing
