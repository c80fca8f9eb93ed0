// Tests of the console printer: per-combination lines and the closing summary block.
#include <cstdio>
#include <sstream>

#include <gtest/gtest.h>

#include "reports/console.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::make_result;
using testing::sample_run;

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != haystack.npos; }

TEST(ConsoleLine, VerdictIsPaddedSoIdsLineUp) {
  const std::string pass = format_console_line(make_result("a/1", "a", Verdict::Pass, 2e-6));
  const std::string caught = format_console_line(make_result("a/2", "a", Verdict::Caught, 3.1e-1));
  EXPECT_EQ(pass, "PASS    a/1  nmse=2.000e-06");
  EXPECT_EQ(caught, "CAUGHT  a/2  nmse=3.100e-01");
  EXPECT_EQ(pass.find("a/1"), caught.find("a/2"));
}

TEST(ConsoleLine, ErrorAndSkippedShowTheirReasonOnOneLine) {
  CombinationResult r = make_result("a/3", "a", Verdict::Error, 0);
  r.message = "adapter exited 139\nsee log";
  EXPECT_EQ(format_console_line(r), "ERROR   a/3  (adapter exited 139 see log)");
  r.verdict = Verdict::Skipped;
  r.message = "";
  EXPECT_EQ(format_console_line(r), "SKIPPED a/3  (no reason recorded)");
}

TEST(ConsoleLine, MutantRunsAreTagged) {
  CombinationResult r = make_result("a/4", "a", Verdict::Fail, 7e-2);
  r.mutant = "swap-tile";
  EXPECT_EQ(format_console_line(r), "FAIL    a/4  nmse=7.000e-02  [mutant swap-tile]");
}

TEST(ConsoleLine, PrintAddsTheNewline) {
  std::ostringstream out;
  print_console_line(out, make_result("a/1", "a", Verdict::Pass, 2e-6));
  EXPECT_EQ(out.str(), "PASS    a/1  nmse=2.000e-06\n");
}

TEST(ConsoleSummary, CarriesTheSameFactsAsTheMarkdown) {
  const RunSummary run = sample_run();
  const std::string s = format_console_summary(run);
  EXPECT_EQ(s.rfind("mxguard: REGRESSION (exit 1)\n", 0), 0u) << s;
  EXPECT_TRUE(contains(s, "verdicts:  PASS 3, CAUGHT 3, FAIL 1, BLIND 1, ERROR 1, SKIPPED 1 (total 10)")) << s;
  EXPECT_TRUE(contains(s, "not counted: 1 combination run under mutants")) << s;
  EXPECT_TRUE(contains(s, "margin:    8.000e+00 = smallest CAUGHT NMSE 4.000e-05 / largest PASS NMSE 5.000e-06"))
      << s;
  EXPECT_TRUE(contains(s, "WARNING:   margin below 10")) << s;
  EXPECT_TRUE(contains(s, "scenarios: 1 of 3 caught")) << s;
  EXPECT_TRUE(contains(s, "separated-path-tp2 MISSED (CAUGHT 1, BLIND 1)")) << s;
  EXPECT_TRUE(contains(s, "mutants:   1 of 2 killed; survived: drop-scale-shuffle")) << s;
  EXPECT_TRUE(contains(s, "wall 123.4 s")) << s;
  // Failures in FAIL, BLIND, ERROR order.
  const std::size_t fail = s.find("FAIL: consistent layout"), blind = s.find("BLIND: layout expected"),
                    error = s.find("ERROR: external adapter");
  ASSERT_NE(fail, std::string::npos);
  ASSERT_NE(blind, std::string::npos);
  ASSERT_NE(error, std::string::npos);
  EXPECT_LT(fail, blind);
  EXPECT_LT(blind, error);
}

TEST(ConsoleSummary, PrintWritesTheFormattedBlockToTheStream) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  print_console_summary(f, sample_run());
  std::rewind(f);
  std::string written;
  for (int c; (c = std::fgetc(f)) != EOF;) written += static_cast<char>(c);
  std::fclose(f);
  EXPECT_EQ(written, format_console_summary(sample_run()));
}

TEST(ConsoleSummary, CleanRunHasNoWarningOrFailures) {
  RunSummary run;
  run.results = {make_result("a/1", "a", Verdict::Pass, 1e-7), make_result("a/2", "a", Verdict::Caught, 1e-1)};
  const std::string s = format_console_summary(run);
  EXPECT_EQ(s.rfind("mxguard: PASS (exit 0)\n", 0), 0u) << s;
  EXPECT_FALSE(contains(s, "WARNING")) << s;
  EXPECT_FALSE(contains(s, "failures:")) << s;
}

}  // namespace
}  // namespace mxg::report
