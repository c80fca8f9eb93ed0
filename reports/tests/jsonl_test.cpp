// Tests of results.jsonl: append and reload, torn last line, malformed lines, crash-safe reopening.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <zlib.h>

#include "kernels/common/errors.hpp"
#include "reports/gzip_file.hpp"
#include "reports/jsonl.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::expect_same_result;
using testing::fresh_temp_dir;
using testing::sample_run;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void append_raw(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary | std::ios::app) << bytes;
}

class ResultsJsonl : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    path_ = dir_ / "results.jsonl";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_, path_;
  const RunSummary run_ = sample_run();
};

TEST(ResultLine, DeeplyNestedLineIsAnInputErrorNotACrash) {
  // Reproduces C1 on --resume: a results.jsonl line of 100,000 nested arrays overflowed the stack.
  const std::string line = R"({"schema":"mxguard-result/1","id":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  try {
    parse_result_line(line);
    ADD_FAILURE() << "parsed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper"), std::string::npos) << e.what();
    EXPECT_LT(std::string(e.what()).size(), 300u);
  }
}

TEST_F(ResultsJsonl, EveryAppendedResultIsOnDiskAtOnceAndReloadsExactly) {
  ResultsLog log(path_);
  for (std::size_t i = 0; i < run_.results.size(); ++i) {
    log.append(run_.results[i]);
    // Read back while the log is still open: nothing may sit in a buffer.
    const LoadedResults loaded = load_results_jsonl(path_);
    ASSERT_EQ(loaded.results.size(), i + 1);
    EXPECT_TRUE(loaded.warnings.empty());
  }
  const LoadedResults loaded = load_results_jsonl(path_);
  for (std::size_t i = 0; i < run_.results.size(); ++i) expect_same_result(run_.results[i], loaded.results[i]);
  // One object per line, each carrying the line schema.
  std::istringstream lines(slurp(path_));
  std::string line;
  std::size_t n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(line.rfind("{\"schema\":\"mxguard-result/1\",\"id\":", 0), 0u) << line;
  }
  EXPECT_EQ(n, run_.results.size());
}

TEST_F(ResultsJsonl, MultiLineMessagesStayOnOneLine) {
  CombinationResult r = run_.results[0];
  r.message = "line one\nline two\r\n";
  const std::string line = format_result_line(r);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  ResultsLog(path_).append(r);
  EXPECT_EQ(load_results_jsonl(path_).results.at(0).message, r.message);
}

TEST_F(ResultsJsonl, TornLastLineIsIgnoredWithAWarningNamingItsLine) {
  {
    ResultsLog log(path_);
    log.append(run_.results[0]);
    log.append(run_.results[1]);
  }
  const std::string third = format_result_line(run_.results[2]);
  append_raw(path_, third.substr(0, third.size() / 2));  // the process died inside write()
  const LoadedResults loaded = load_results_jsonl(path_);
  ASSERT_EQ(loaded.results.size(), 2u);
  expect_same_result(run_.results[1], loaded.results[1]);
  ASSERT_EQ(loaded.warnings.size(), 1u);
  EXPECT_NE(loaded.warnings[0].find(path_.string() + ":3: ignoring torn last line"), std::string::npos)
      << loaded.warnings[0];
}

TEST_F(ResultsJsonl, ReopeningCutsTheTornFragmentSoResumedAppendsStayValid) {
  {
    ResultsLog log(path_);
    log.append(run_.results[0]);
  }
  const std::string clean = slurp(path_);
  append_raw(path_, R"({"schema":"mxguard-result/1","id":"half)");
  {
    ResultsLog log(path_);
    EXPECT_NE(log.repair_note().find("torn last line"), std::string::npos) << log.repair_note();
    EXPECT_EQ(slurp(path_), clean);
    log.append(run_.results[1]);
  }
  const LoadedResults loaded = load_results_jsonl(path_);
  EXPECT_TRUE(loaded.warnings.empty());
  ASSERT_EQ(loaded.results.size(), 2u);
  expect_same_result(run_.results[1], loaded.results[1]);
}

TEST_F(ResultsJsonl, ACompleteLastRecordMissingItsNewlineIsKeptAndTerminated) {
  std::string line = format_result_line(run_.results[0]);
  line.pop_back();
  append_raw(path_, line);
  ASSERT_EQ(load_results_jsonl(path_).results.size(), 1u);
  {
    ResultsLog log(path_);
    EXPECT_NE(log.repair_note().find("lacked its newline"), std::string::npos) << log.repair_note();
    log.append(run_.results[1]);
  }
  const LoadedResults loaded = load_results_jsonl(path_);
  ASSERT_EQ(loaded.results.size(), 2u);
  EXPECT_TRUE(loaded.warnings.empty());
}

TEST_F(ResultsJsonl, CleanFileNeedsNoRepair) {
  ResultsLog(path_).append(run_.results[0]);
  const ResultsLog reopened(path_);
  EXPECT_EQ(reopened.repair_note(), "");
}

TEST_F(ResultsJsonl, MalformedMiddleLineIsAnInputErrorWithItsLineNumber) {
  append_raw(path_, format_result_line(run_.results[0]));
  append_raw(path_, "\n");  // blank lines are tolerated and still counted
  append_raw(path_, "{\"schema\":\"mxguard-result/1\", \"id\": \n");
  append_raw(path_, format_result_line(run_.results[1]));
  try {
    (void)load_results_jsonl(path_);
    FAIL() << "accepted a malformed line";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path_.string() + ":3: malformed result record"), std::string::npos)
        << e.what();
  }
}

TEST_F(ResultsJsonl, ValidJsonWithAMissingFieldNamesLineAndField) {
  std::string line = format_result_line(run_.results[0]);
  const std::string key = "\"verdict\":\"PASS\",";
  ASSERT_NE(line.find(key), std::string::npos);
  line.erase(line.find(key), key.size());
  append_raw(path_, format_result_line(run_.results[1]));
  append_raw(path_, line);
  try {
    (void)load_results_jsonl(path_);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(":2: malformed result record: field 'verdict': missing"), std::string::npos)
        << e.what();
  }
}

TEST_F(ResultsJsonl, LinesOfAnotherSchemaAreRejected) {
  append_raw(path_, "{\"schema\":\"mxguard-result/9\"}\n");
  try {
    (void)load_results_jsonl(path_);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(":1: malformed result record: field 'schema'"), std::string::npos)
        << e.what();
  }
}

TEST_F(ResultsJsonl, UnopenablePathsAreInputErrors) {
  EXPECT_THROW((void)load_results_jsonl(dir_ / "absent.jsonl"), InputError);
  EXPECT_THROW((void)load_results_jsonl(dir_), InputError);
  EXPECT_THROW(ResultsLog(dir_ / "no-such-dir" / "results.jsonl"), InputError);
}

// A FIFO with no writer where a log is expected (e.g. `--resume` on a hostile out dir) fails at once
// instead of blocking in open(2) inside zlib.
TEST_F(ResultsJsonl, AFifoGivenAsALogFailsAtOnce) {
  const auto fifo = dir_ / "results.jsonl.gz";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW((void)load_results_jsonl(fifo), InputError);
}

// A closed run's log is gzip (gzip_replace); the reader takes it like the plain one. The compressed
// file is checked with zlib directly, not with the reader under test.
TEST_F(ResultsJsonl, ClosedLogIsGzipAndReadsBackTheSameResults) {
  {
    ResultsLog log(path_);
    for (const auto& r : run_.results) log.append(r);
  }
  const std::string plain = slurp(path_);
  const auto gz = dir_ / "results.jsonl.gz";
  gzip_replace(path_, gz);
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the plain log is replaced";
  const std::string bytes = slurp(gz);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0x8b);
  EXPECT_LT(bytes.size(), plain.size() / 3);
  gzFile f = gzopen(gz.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string back(plain.size() + 16, '\0');
  const int n = gzread(f, back.data(), static_cast<unsigned>(back.size()));
  gzclose(f);
  back.resize(static_cast<std::size_t>(std::max(n, 0)));
  EXPECT_EQ(back, plain);
  const LoadedResults loaded = load_results_jsonl(gz);
  ASSERT_EQ(loaded.results.size(), run_.results.size());
  for (std::size_t i = 0; i < run_.results.size(); ++i) expect_same_result(run_.results[i], loaded.results[i]);
}

TEST_F(ResultsJsonl, ATruncatedGzipLogIsAnInputErrorNamingTheFile) {
  {
    ResultsLog log(path_);
    for (const auto& r : run_.results) log.append(r);
  }
  const auto gz = dir_ / "results.jsonl.gz";
  gzip_replace(path_, gz);
  const std::string bytes = slurp(gz);
  std::ofstream(gz, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  try {
    (void)load_results_jsonl(gz);
    FAIL() << "a truncated gzip log must not read as a shorter, valid one";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(gz.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mxg::report
