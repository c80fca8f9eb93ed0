// fetch-data without a network: file:// sources through libcurl, the cache (reused without touching
// the source, refreshed when corrupt), hash mismatch and missing source, and SHA-256 against the
// FIPS 180-2 test vectors.
#include "harness/probe/fetch_data.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

// FIPS 180-2 appendix B vectors.
constexpr std::string_view kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kSha256TwoBlocks = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view kSha256MillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
constexpr std::string_view kSha256Empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

class FetchData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("mxg_fetch_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "source");
    cache_ = root_ / "cache";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::filesystem::path write_source(const std::string& name, const std::string& bytes) {
    const std::filesystem::path path = root_ / "source" / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  static std::string file_url(const std::filesystem::path& path) { return "file://" + path.string(); }
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  std::vector<std::filesystem::path> cache_entries() const {
    std::vector<std::filesystem::path> entries;
    if (!std::filesystem::exists(cache_)) return entries;
    for (const auto& entry : std::filesystem::directory_iterator(cache_)) entries.push_back(entry.path());
    return entries;
  }
  FetchOptions options(const std::string& url, std::string_view sha256) const {
    FetchOptions o;
    o.url = url;
    o.sha256 = std::string(sha256);
    o.cache_dir = cache_;
    o.timeout_s = 10;
    o.retries = 0;
    return o;
  }

  std::filesystem::path root_;
  std::filesystem::path cache_;
  std::vector<std::string> log_;
  std::function<void(std::string_view)> logger_ = [this](std::string_view line) { log_.emplace_back(line); };
};

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex("abc"), kSha256Abc);
  EXPECT_EQ(sha256_hex(""), kSha256Empty);
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), kSha256TwoBlocks);
}

TEST_F(FetchData, HashesFilesInChunks) {
  // One million 'a': larger than the reader's buffer, so the incremental path is exercised.
  EXPECT_EQ(sha256_hex_file(write_source("million", std::string(1000000, 'a'))), kSha256MillionA);
  EXPECT_EQ(sha256_hex_file(write_source("empty", "")), kSha256Empty);
  EXPECT_THROW(sha256_hex_file(root_ / "source" / "absent"), InputError);
}

TEST_F(FetchData, DownloadsVerifiesAndThenUsesTheCacheOnly) {
  const std::filesystem::path source = write_source("test.jsonl", "abc");
  const std::filesystem::path first = fetch_dataset(options(file_url(source), kSha256Abc), logger_);
  EXPECT_EQ(first, cache_ / (std::string(kSha256Abc) + "-test.jsonl"));
  EXPECT_EQ(read(first), "abc");
  EXPECT_EQ(cache_entries().size(), 1u) << "no temporary file left behind";

  // The source is gone: only the cache can satisfy the second call.
  std::filesystem::remove(source);
  log_.clear();
  const std::filesystem::path second = fetch_dataset(options(file_url(source), kSha256Abc), logger_);
  EXPECT_EQ(second, first);
  EXPECT_EQ(read(second), "abc");
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.front().find("cached"), std::string::npos) << log_.front();
}

TEST_F(FetchData, UppercaseExpectedHashIsAccepted) {
  std::string upper(kSha256Abc);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(read(fetch_dataset(options(file_url(write_source("a.jsonl", "abc")), upper), nullptr)), "abc");
}

TEST_F(FetchData, WrongHashLeavesNothingInTheCache) {
  const std::string url = file_url(write_source("test.jsonl", "abd"));
  try {
    fetch_dataset(options(url, kSha256Abc), logger_);
    ADD_FAILURE() << "a mismatching file was accepted";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(url), std::string::npos) << message;
    EXPECT_NE(message.find(std::string(kSha256Abc)), std::string::npos) << message;
    EXPECT_NE(message.find(sha256_hex("abd")), std::string::npos) << message;
  }
  EXPECT_TRUE(cache_entries().empty());
}

TEST_F(FetchData, MissingSourceIsAnInfrastructureError) {
  const std::string url = file_url(root_ / "source" / "absent.jsonl");
  try {
    fetch_dataset(options(url, kSha256Abc), logger_);
    ADD_FAILURE() << "a missing source was fetched";
  } catch (const InfraError& e) {
    EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
  }
  EXPECT_TRUE(cache_entries().empty());
}

TEST_F(FetchData, CorruptCachedCopyIsDownloadedAgain) {
  const std::filesystem::path source = write_source("test.jsonl", "abc");
  const std::filesystem::path cached = fetch_dataset(options(file_url(source), kSha256Abc), logger_);
  std::ofstream(cached, std::ios::binary | std::ios::trunc) << "tampered";
  EXPECT_EQ(fetch_dataset(options(file_url(source), kSha256Abc), logger_), cached);
  EXPECT_EQ(read(cached), "abc");
}

TEST_F(FetchData, WithoutHashDownloadsAndWarns) {
  const std::filesystem::path source = write_source("train.jsonl", "xyz");
  const std::filesystem::path cached = fetch_dataset(options(file_url(source), ""), logger_);
  EXPECT_EQ(read(cached), "xyz");
  const std::string name = cached.filename().string();
  EXPECT_EQ(name.size(), 16 + std::string("-train.jsonl").size()) << name;  // url-hash prefix
  EXPECT_TRUE(name.ends_with("-train.jsonl")) << name;
  bool warned = false;
  for (const std::string& line : log_) warned = warned || line.find("warning") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(FetchData, RejectsBadOptions) {
  const std::string url = file_url(write_source("a", "abc"));
  EXPECT_THROW(fetch_dataset(options(url, "abc123"), logger_), InputError);
  EXPECT_THROW(fetch_dataset(options(url, std::string(64, 'g')), logger_), InputError);
  EXPECT_THROW(fetch_dataset(options("", kSha256Abc), logger_), InputError);
  FetchOptions negative = options(url, kSha256Abc);
  negative.retries = -1;
  EXPECT_THROW(fetch_dataset(negative, logger_), InputError);
}

TEST_F(FetchData, UnsupportedSchemeIsRefused) {
  EXPECT_THROW(fetch_dataset(options("gopher://example.invalid/test.jsonl", kSha256Abc), logger_), InfraError);
  EXPECT_TRUE(cache_entries().empty());
}

}  // namespace
}  // namespace mxg::probe
