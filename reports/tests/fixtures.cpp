// Hand-built runs for the reports tests: every verdict, named scenarios, mutants, a NaN metric.
#include "reports/tests/fixtures.hpp"

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace mxg::report::testing {

namespace {
std::string matrix_id(std::string_view case_name, std::string_view prep, std::string_view shuffle,
                      std::string_view flag, std::string_view gate, int tokens) {
  return std::string(case_name) + "/prep=" + std::string(prep) + "/shuffle=" + std::string(shuffle) + "/flag=" +
         std::string(flag) + "/gate=" + std::string(gate) + "/T=" + std::to_string(tokens) + "/seed=0";
}
}  // namespace

CombinationResult make_result(std::string id, std::string case_name, Verdict verdict, double nmse) {
  CombinationResult r;
  r.id = std::move(id);
  r.case_name = std::move(case_name);
  r.shape = r.case_name + "-r0";
  r.dims = {{"prep", "interleaved"}, {"w_shuffle", "interleaved-tiles"}, {"s_shuffle", "interleaved-tiles"},
            {"flag", "1"}, {"gate", "interleave"}, {"pad", "ok"}};
  r.tokens = 16;
  r.seed = 0;
  r.expected_consistent = verdict != Verdict::Caught && verdict != Verdict::Blind;
  r.verdict = verdict;
  r.metrics = {.nmse = nmse, .max_rel = 1e-2, .cosine = 0.999999, .nonfinite_kernel = 0, .nonfinite_ref = 0};
  r.tolerance = {.nmse = 1e-5, .max_rel = 5e-2, .cosine = 0.9999};
  r.backend = "host";
  r.kernel = "fused_moe_mxfp4_host";
  r.device = "cpu";
  r.seconds = 0.25;
  return r;
}

RunSummary sample_run() {
  RunSummary run;
  run.tool_version = "0.1.0";
  run.started_at = "2026-11-25T06:00:00Z";
  run.finished_at = "2026-11-25T06:02:03Z";
  run.backend = "host";
  run.case_files = {"cases/small-a.json", "cases/gptoss120b-tp2.json"};
  run.wall_seconds = 123.4;

  const std::string a = "small-a";
  const std::string b = "gptoss120b-tp2";

  run.results.push_back(make_result(matrix_id(a, "interleaved", "interleaved-tiles", "1", "interleave", 16), a,
                                    Verdict::Pass, 2e-6));
  {
    CombinationResult r = make_result(matrix_id(a, "separated", "separated-tiles", "1", "separated", 16), a,
                                      Verdict::Pass, 5e-6);
    r.dims["prep"] = "separated";
    r.dims["w_shuffle"] = r.dims["s_shuffle"] = "separated-tiles";
    r.dims["gate"] = "separated";
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(a, "interleaved", "interleaved-tiles", "0", "interleave", 16), a,
                                      Verdict::Caught, 3.1e-1);
    r.dims["flag"] = "0";
    r.scenarios = {"is-shuffled-flag-lost"};
    r.derivation = "flag=0 reads pre-shuffled bytes as row-major: w13[0][0] lands at [0][16]";
    r.metrics = {.nmse = 3.1e-1, .max_rel = 4.2, .cosine = 0.84, .nonfinite_kernel = 0, .nonfinite_ref = 0};
    r.hotspots = {{0, 0, 0.12}, {1, 0, 0.11}};
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(a, "interleaved", "interleaved-tiles", "1", "separated", 16), a,
                                      Verdict::Caught, 4e-5);
    r.dims["gate"] = "separated";
    r.derivation = "gate=separated reads rows 0..I-1 as gate, but they alternate gate/up";
    r.metrics = {.nmse = 4e-5, .max_rel = 6e-2, .cosine = 0.99996, .nonfinite_kernel = 0, .nonfinite_ref = 0};
    r.hotspots = {{2, 5, 0.4}};
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(a, "separated", "separated-tiles", "1", "separated", 256), a,
                                      Verdict::Fail, 2.5e-2);
    r.tokens = 256;
    r.dims["prep"] = "separated";
    r.dims["w_shuffle"] = r.dims["s_shuffle"] = "separated-tiles";
    r.dims["gate"] = "separated";
    r.metrics = {.nmse = 2.5e-2, .max_rel = 1.9, .cosine = 0.9874, .nonfinite_kernel = 0, .nonfinite_ref = 0};
    r.hotspots = {{3, 7, 0.62}, {3, 8, 0.2}, {5, 1, 0.05}};
    r.message = "first mismatch at token 4, hidden 113: kernel -0.75, reference 1.5";
    r.seconds = 1.5;
    run.results.push_back(r);
  }
  // A combination run under a mutant: its FAIL is evidence for the mutants suite, not a regression.
  {
    CombinationResult r = make_result(matrix_id(a, "interleaved", "interleaved-tiles", "1", "interleave", 16) +
                                          "/mutant=swap-tile",
                                      a, Verdict::Fail, 7e-2);
    r.mutant = "swap-tile";
    r.metrics.max_rel = 2.0;
    r.hotspots = {{0, 3, 0.5}, {0, 4, 0.5}};
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(b, "interleaved", "interleaved-tiles", "1", "interleave", 1), b,
                                      Verdict::Pass, 3e-6);
    r.tokens = 1;
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(b, "separated", "separated-tiles", "1", "separated", 16), b,
                                      Verdict::Blind, 1e-6);
    r.dims["prep"] = "separated";
    r.dims["w_shuffle"] = r.dims["s_shuffle"] = "separated-tiles";
    r.dims["gate"] = "separated";
    r.dims["bias"] = "interleaved";
    r.scenarios = {"separated-path-tp2"};
    r.derivation = "bias left interleaved: b13[1] is read as up[0]";
    r.hotspots = {{1, 0, 0.3}};
    run.results.push_back(r);
  }
  {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CombinationResult r = make_result(matrix_id(b, "separated", "interleaved-tiles", "1", "separated", 16), b,
                                      Verdict::Caught, nan);
    r.dims["prep"] = "separated";
    r.dims["gate"] = "separated";
    r.scenarios = {"separated-path-tp2"};
    r.derivation = "separated rows under interleaved tiles: w13[1][0] lands at [I][0]";
    r.metrics = {.nmse = nan, .max_rel = nan, .cosine = nan, .nonfinite_kernel = 12, .nonfinite_ref = 0};
    r.hotspots = {{0, 0, 1.0}};
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(b, "interleaved", "none", "0", "interleave", 16), b,
                                      Verdict::Error, 0);
    r.dims["w_shuffle"] = r.dims["s_shuffle"] = "none";
    r.dims["flag"] = "0";
    r.message = "external adapter exited with status 139 (SIGSEGV)";
    r.seconds = 30.0;
    run.results.push_back(r);
  }
  {
    CombinationResult r = make_result(matrix_id(b, "interleaved", "interleaved-tiles", "1", "interleave", 16) +
                                          "/pad=misstated",
                                      b, Verdict::Skipped, 0);
    r.dims["pad"] = "misstated";
    r.scenarios = {"intermediate-pad-misstated"};
    r.message = "known bug #1234: host backend rejects a mis-stated intermediate_pad";
    r.seconds = 0;
    run.results.push_back(r);
  }

  run.mutants = {
      {.name = "swap-tile", .description = "exchange two 16-row tiles of w2 in expert 0", .killed = true,
       .combinations = 40, .detecting = 12},
      {.name = "drop-scale-shuffle", .description = "leave the scale tensor unshuffled", .killed = false,
       .combinations = 40, .detecting = 0},
  };
  return run;
}

std::filesystem::path fresh_temp_dir(std::string_view name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mxg-reports-" + std::to_string(::getpid()) + "-" + std::string(name));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

bool same_bits(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;  // JSON keeps "NaN", not its payload
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

void expect_same_result(const CombinationResult& a, const CombinationResult& b) {
  SCOPED_TRACE(a.id);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.case_name, b.case_name);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dims, b.dims);
  EXPECT_EQ(a.scenarios, b.scenarios);
  EXPECT_EQ(a.mutant, b.mutant);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.expected_consistent, b.expected_consistent);
  EXPECT_EQ(a.derivation, b.derivation);
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_TRUE(same_bits(a.metrics.nmse, b.metrics.nmse));
  EXPECT_TRUE(same_bits(a.metrics.max_rel, b.metrics.max_rel));
  EXPECT_TRUE(same_bits(a.metrics.cosine, b.metrics.cosine));
  EXPECT_EQ(a.metrics.nonfinite_kernel, b.metrics.nonfinite_kernel);
  EXPECT_EQ(a.metrics.nonfinite_ref, b.metrics.nonfinite_ref);
  EXPECT_TRUE(same_bits(a.tolerance.nmse, b.tolerance.nmse));
  EXPECT_TRUE(same_bits(a.tolerance.max_rel, b.tolerance.max_rel));
  EXPECT_TRUE(same_bits(a.tolerance.cosine, b.tolerance.cosine));
  ASSERT_EQ(a.hotspots.size(), b.hotspots.size());
  for (std::size_t i = 0; i < a.hotspots.size(); ++i) {
    EXPECT_EQ(a.hotspots[i].expert, b.hotspots[i].expert);
    EXPECT_EQ(a.hotspots[i].tile, b.hotspots[i].tile);
    EXPECT_TRUE(same_bits(a.hotspots[i].share, b.hotspots[i].share));
  }
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.kernel, b.kernel);
  EXPECT_EQ(a.device, b.device);
  EXPECT_TRUE(same_bits(a.seconds, b.seconds));
}

void expect_same_run(const RunSummary& a, const RunSummary& b) {
  EXPECT_EQ(a.tool_version, b.tool_version);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.case_files, b.case_files);
  EXPECT_EQ(a.interrupted, b.interrupted);
  EXPECT_TRUE(same_bits(a.wall_seconds, b.wall_seconds));
  ASSERT_EQ(a.results.size(), b.results.size());
  for (std::size_t i = 0; i < a.results.size(); ++i) expect_same_result(a.results[i], b.results[i]);
  ASSERT_EQ(a.mutants.size(), b.mutants.size());
  for (std::size_t i = 0; i < a.mutants.size(); ++i) {
    EXPECT_EQ(a.mutants[i].name, b.mutants[i].name);
    EXPECT_EQ(a.mutants[i].description, b.mutants[i].description);
    EXPECT_EQ(a.mutants[i].killed, b.mutants[i].killed);
    EXPECT_EQ(a.mutants[i].combinations, b.mutants[i].combinations);
    EXPECT_EQ(a.mutants[i].detecting, b.mutants[i].detecting);
  }
}

}  // namespace mxg::report::testing
