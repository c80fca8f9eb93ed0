// End-to-end verdicts of `mxguard matrix`: every verdict produced for real by the binary, with the
// exit code the help text promises (0 clean, 1 any FAIL or BLIND, 3 only ERRORs).
//
// Expectations come from the design, not from the derivation code: de-interleaved rows with
// separated tiles and scales, pre-shuffle flag on and the separated gate mode is the right way to
// feed the kernel; losing the flag (the GPT-OSS incident's is_shuffled bug) or dispatching
// interleaved tiles to the separated gate mode is wrong.
#include <fstream>
#include <map>
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

namespace mxg::matrix::testing {
namespace {

// I = 224 over tp 4 (LAYOUTS.md §4's bug class, small): ranks 0-2 load 64 units, I/tp = 56, I_p = 256,
// so the pad from I/tp (200) hides 8 loaded units from a kernel that takes it exactly (the vLLM #44679
// class) but not from one that rounds it down to 64 (CK-tile: 192, 64 units computed).
std::filesystem::path write_ragged_case(const std::filesystem::path& dir, const std::string& gate) {
  std::filesystem::create_directories(dir);
  const nlohmann::json doc = {
      {"name", "ragged"}, {"tier", "quick"}, {"comment", "ragged tp 4"},
      {"shapes", nlohmann::json::array({{{"name", "ragged"}, {"hidden", 128}, {"intermediate", 224}, {"experts", 8},
                                         {"topk", 2}, {"tp", 4}, {"ranks", nlohmann::json::array({0})}}})},
      {"tokens", nlohmann::json::array({16})}, {"routing", nlohmann::json::array({"uniform"})},
      {"inputs", nlohmann::json::array({"normal"})}, {"seeds", nlohmann::json::array({0})},
      {"tolerance", {{"nmse", 1e-4}, {"max_rel", 0.45}, {"cosine", 0.9999}, {"note", "cases/default calibration"}}},
      {"dimensions",
       {{"prep", {"deinterleaved"}},
        {"weight_shuffle", {gate == "interleave" ? "interleaved-tiles" : "separated-tiles"}},
        {"scale_shuffle", {gate == "interleave" ? "interleaved" : "separated"}},
        {"is_shuffled", {true}},
        {"gate_mode", {gate}},
        {"padding", {"correct", "from-i-over-tp"}}}}};
  const auto path = dir / "ragged.json";
  std::ofstream(path) << doc.dump(2);
  return path;
}

std::map<std::string, std::string> verdicts_by_padding(const std::vector<ResultLine>& results) {
  std::map<std::string, std::string> out;
  for (const auto& r : results) out[r.id.substr(r.id.rfind("/pad=") + 5)] = r.verdict;
  return out;
}

TEST(MatrixVerdicts, ThePadFromIOverTpIsCaughtForAnExactKernelAndPassesForACkTileOne) {
  ScratchDir dir;
  write_ragged_case(dir / "cases", "interleave");
  const auto exact = run_mxguard({"matrix", "--cases", "cases", "--out", "exact"}, dir.path());
  ASSERT_TRUE(exact.exited) << exact.err;
  EXPECT_EQ(exact.exit_code, 0) << exact.err;
  const std::map<std::string, std::string> caught{{"correct", "PASS"}, {"from-i-over-tp", "CAUGHT"}};
  EXPECT_EQ(verdicts_by_padding(read_results(dir / "exact/results.jsonl")), caught);
  // The granule kernel reads into the padding the exact one is told is absent: it must find zeros there
  // (as the serving stack leaves them), not the matrix's NaN poison, and compute every loaded unit.
  const auto granule =
      run_mxguard({"matrix", "--cases", "cases", "--out", "granule", "--pad-convention", "granule"}, dir.path());
  ASSERT_TRUE(granule.exited) << granule.err;
  EXPECT_EQ(granule.exit_code, 0) << granule.out << granule.err;
  const std::map<std::string, std::string> healthy{{"correct", "PASS"}, {"from-i-over-tp", "PASS"}};
  EXPECT_EQ(verdicts_by_padding(read_results(dir / "granule/results.jsonl")), healthy);
}

TEST(MatrixVerdicts, AKernelMutantOnAConsistentLayoutIsFailAndExitsOne) {
  ScratchDir dir;
  write_ragged_case(dir / "cases", "interleave");
  const auto run = run_mxguard({"matrix", "--cases", "cases", "--out", "out", "--kernel-mutant", "gugu-rows"},
                               dir.path());
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.exit_code, 1) << run.err;
  const std::map<std::string, std::string> failed{{"correct", "FAIL"}, {"from-i-over-tp", "CAUGHT"}};
  EXPECT_EQ(verdicts_by_padding(read_results(dir / "out/results.jsonl")), failed);
  const auto hip = run_mxguard({"matrix", "--cases", "cases", "--out", "x", "--backend", "external", "--kernel-cmd",
                                "true", "--kernel-mutant", "gugu-rows"},
                               dir.path());
  EXPECT_EQ(hip.exit_code, 2) << hip.err;
  EXPECT_TRUE(contains(hip.err, "--kernel-mutant")) << hip.err;
}

}  // namespace
}  // namespace mxg::matrix::testing
