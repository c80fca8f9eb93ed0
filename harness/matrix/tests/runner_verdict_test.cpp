// End-to-end verdicts of `mxguard matrix`: every verdict produced for real by the binary, with the
// exit code the help text promises (0 clean, 1 any FAIL or BLIND, 3 only ERRORs).
//
// Expectations come from the design, not from the derivation code: de-interleaved rows with
// separated tiles and scales, pre-shuffle flag on and the separated gate mode is the right way to
// feed the kernel; losing the flag (the GPT-OSS incident's is_shuffled bug) or dispatching
// interleaved tiles to the separated gate mode is wrong.
#include <string>

#include <gtest/gtest.h>

#include "harness/matrix/tests/matrix_test_files.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// The canonical combination and the same buffers with the is_shuffled flag lost.
TinyCase flag_case() { return TinyCase{}.sweep("is_shuffled", nlohmann::json::array({true, false})); }
std::string flag_id(const TinyCase& c, bool flag) {
  return instance_id(c, 0, 4, "uniform") +
         combination_suffix("deinterleaved", "separated-tiles", "separated", flag, "separated");
}

// --kernel-cmd for tests/corrupting_adapter.sh: the host backend, then y[0,0] overwritten.
std::string corrupting_kernel_cmd() {
  return "MXGUARD='" + mxguard_binary().string() + "' sh '" + MXG_TEST_CORRUPTING_ADAPTER + "' {in} {out}";
}

TEST(MatrixVerdicts, HostBackendPassesTheRightLayoutAndCatchesTheLostFlag) {
  ScratchDir dir;
  const TinyCase c = flag_case();
  write_case(dir / "cases", c);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const auto verdicts = verdicts_by_id(read_results(dir / "out/results.jsonl"));
  const std::map<std::string, std::string> expected{{flag_id(c, true), "PASS"}, {flag_id(c, false), "CAUGHT"}};
  EXPECT_EQ(verdicts, expected);
  EXPECT_TRUE(contains(run.out, "mxguard: PASS (exit 0)")) << run.out;
}

TEST(MatrixVerdicts, KernelThatComputesAWrongNumberIsFailAndExitsOne) {
  ScratchDir dir;
  const TinyCase c = flag_case();
  write_case(dir / "cases", c);
  const auto run = run_mxguard(
      {"matrix", "--cases", "cases", "--out", "out", "--backend", "external", "--kernel-cmd", corrupting_kernel_cmd()},
      dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 1) << run.err;
  const auto results = read_results(dir / "out/results.jsonl");
  // The right layout now mismatches (FAIL); the wrong one still mismatches (CAUGHT), corrupted or not.
  const std::map<std::string, std::string> expected{{flag_id(c, true), "FAIL"}, {flag_id(c, false), "CAUGHT"}};
  EXPECT_EQ(verdicts_by_id(results), expected);
  for (const auto& r : results) {
    if (r.verdict != "FAIL") continue;
    // 65536 against outputs of order 1: far beyond every tolerance, and the message says by how much.
    EXPECT_GT(r.json.at("metrics").at("nmse").get<double>(), 1.0);
    EXPECT_TRUE(contains(r.message, "nmse")) << r.message;
    EXPECT_FALSE(r.json.at("hotspots").empty()) << "a FAIL must point at the tiles that carry its error";
  }
  // The failing id is printed as it happens, and again in the final summary.
  EXPECT_TRUE(contains(run.err, "FAIL    " + flag_id(c, true))) << run.err;
  EXPECT_TRUE(contains(run.out, "mxguard: REGRESSION (exit 1)")) << run.out;
}

TEST(MatrixVerdicts, AbsurdlyLooseToleranceMakesAWrongLayoutBlindAndExitsOne) {
  ScratchDir dir;
  TinyCase c;
  c.loose().sweep("weight_shuffle", nlohmann::json::array({"separated-tiles", "interleaved-tiles"}));
  write_case(dir / "cases", c);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 1) << run.err;
  const std::string prefix = instance_id(c, 0, 4, "uniform");
  // Interleaved tiles read through the separated gate mode give finite garbage, which a tolerance of
  // 1e9 accepts: the harness is blind to the bug at that tolerance and must say so.
  const std::map<std::string, std::string> expected{
      {prefix + combination_suffix("deinterleaved", "separated-tiles", "separated", true, "separated"), "PASS"},
      {prefix + combination_suffix("deinterleaved", "interleaved-tiles", "separated", true, "separated"), "BLIND"}};
  EXPECT_EQ(verdicts_by_id(read_results(dir / "out/results.jsonl")), expected);
  EXPECT_TRUE(contains(run.err, "BLIND")) << run.err;
}

TEST(MatrixVerdicts, LooseToleranceStillCatchesNonFiniteOutput) {
  // With the flag lost the kernel reads shuffled buffers in plain order and lands on the NaN-poisoned
  // padding, so NaN comes out where the reference has none. Non-finite positions are judged before
  // any statistic, whatever the tolerance (STYLE.md lesson 6): still CAUGHT, not BLIND.
  ScratchDir dir;
  TinyCase c = flag_case();
  c.loose();
  write_case(dir / "cases", c);
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out"}, dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  const auto results = read_results(dir / "out/results.jsonl");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    if (r.id != flag_id(c, false)) continue;
    ASSERT_GT(r.json.at("metrics").at("nonfinite_kernel").get<std::int64_t>(), 0)
        << "precondition: this combination must produce non-finite output";
    EXPECT_EQ(r.verdict, "CAUGHT");
    EXPECT_TRUE(contains(r.message, "non-finite")) << r.message;
  }
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST(MatrixVerdicts, KernelCommandThatFailsIsErrorAndExitsThree) {
  ScratchDir dir;
  const TinyCase c = flag_case();
  write_case(dir / "cases", c);
  const auto run = run_mxguard(
      {"matrix", "--cases", "cases", "--out", "out", "--backend", "external", "--kernel-cmd", "false {in} {out}"},
      dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 3) << "an infrastructure failure is never an accuracy verdict\n" << run.err;
  const auto results = read_results(dir / "out/results.jsonl");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_EQ(r.verdict, "ERROR") << r.id;
    EXPECT_TRUE(contains(r.message, "external command failed")) << r.message;
  }
}

}  // namespace
}  // namespace mxg::matrix::testing
