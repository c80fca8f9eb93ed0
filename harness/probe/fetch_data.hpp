// `mxguard probe fetch-data`: downloads a GSM8K split with libcurl, verifies its sha256 and caches it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace mxg::probe {

// openai/grade-school-math raw files and their sha256 (PROBE.md).
inline constexpr std::string_view kGsm8kTestUrl =
    "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl";
inline constexpr std::string_view kGsm8kTestSha256 =
    "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14";
inline constexpr std::string_view kGsm8kTrainUrl =
    "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/train.jsonl";
inline constexpr std::string_view kGsm8kTrainSha256 =
    "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465";

struct FetchOptions {
  std::string url;                  // http(s):// or file:// (libcurl)
  std::string sha256;               // expected lowercase hex; empty = do not verify (warned)
  std::filesystem::path cache_dir;  // created if missing
  double timeout_s = 120;
  int retries = 3;                  // on transport errors and 5xx, with exponential backoff
  // A data set larger than this is refused (GSM8K's test split is ~0.7 MB): file:///dev/zero filled a
  // disk and a hostile server sent ~2.2 GB per attempt.
  std::uint64_t max_bytes = std::uint64_t{256} << 20;
};

// Returns the cached file's path: <cache_dir>/<sha256 or url-hash>-<basename of url>. A cached file whose
// hash matches is used without any network access. Downloads go to a temporary sibling, are hashed,
// and are renamed into place only when the hash matches (an interrupted download leaves no file that
// looks valid). Hash mismatch -> mxg::InputError naming the url, expected and actual hash; network or
// HTTP failure after the retries -> mxg::InfraError naming the url and the curl error / HTTP status.
std::filesystem::path fetch_dataset(const FetchOptions& options,
                                    const std::function<void(std::string_view)>& log);

// Lowercase hex SHA-256 (OpenSSL EVP).
std::string sha256_hex(std::string_view bytes);
std::string sha256_hex_file(const std::filesystem::path& path);  // cannot read -> mxg::InputError

}  // namespace mxg::probe
