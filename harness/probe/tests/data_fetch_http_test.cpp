// fetch-data over real HTTP (an in-process cpp-httplib server on 127.0.0.1): success, redirects,
// 4xx not retried, 5xx retried with backoff, connection refused, and a hash mismatch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "harness/probe/fetch_data.hpp"
#include "harness/probe/tests/test_http_server.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

constexpr std::string_view kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // FIPS 180-2

class FetchHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = std::filesystem::temp_directory_path() /
             ("mxg_fetch_http_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(cache_);
    server_.routes().Get("/data/test.jsonl", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.set_content("abc", "application/octet-stream");
    });
    server_.routes().Get("/moved", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/data/test.jsonl");
    });
    server_.routes().Get("/missing.jsonl", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.status = 404;
    });
    server_.routes().Get("/flaky.jsonl", [this](const httplib::Request&, httplib::Response& res) {
      if (++hits_ == 1) {
        res.status = 503;  // the first request fails, the retry succeeds
      } else {
        res.set_content("abc", "application/octet-stream");
      }
    });
    server_.routes().Get("/down.jsonl", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.status = 503;
    });
    server_.start();
  }
  void TearDown() override { std::filesystem::remove_all(cache_); }

  FetchOptions options(const std::string& path, int retries) const {
    FetchOptions o;
    o.url = server_.base_url() + path;
    o.sha256 = std::string(kSha256Abc);
    o.cache_dir = cache_;
    o.timeout_s = 10;
    o.retries = retries;
    return o;
  }
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  bool cache_empty() const {
    return !std::filesystem::exists(cache_) || std::filesystem::is_empty(cache_);
  }
  std::string infra_error(const FetchOptions& o) {
    try {
      fetch_dataset(o, nullptr);
    } catch (const InfraError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no InfraError for " << o.url;
    return "";
  }

  testing::TestHttpServer server_{4};
  std::atomic<int> hits_{0};
  std::filesystem::path cache_;
};

TEST_F(FetchHttp, DownloadsAndNamesTheFileAfterTheUrl) {
  const auto path = fetch_dataset(options("/data/test.jsonl?download=1", 0), nullptr);
  EXPECT_EQ(path, cache_ / (std::string(kSha256Abc) + "-test.jsonl"));  // query string not in the name
  EXPECT_EQ(read(path), "abc");
  EXPECT_EQ(hits_, 1);
  fetch_dataset(options("/data/test.jsonl", 0), nullptr);
  EXPECT_EQ(hits_, 1) << "the verified cached copy is used without a request";
}

TEST_F(FetchHttp, FollowsRedirects) {
  EXPECT_EQ(read(fetch_dataset(options("/moved", 0), nullptr)), "abc");
}

TEST_F(FetchHttp, ClientErrorIsNotRetried) {
  const std::string message = infra_error(options("/missing.jsonl", 3));
  EXPECT_NE(message.find("HTTP status 404"), std::string::npos) << message;
  EXPECT_EQ(hits_, 1);
  EXPECT_TRUE(cache_empty());
}

TEST_F(FetchHttp, ServerErrorIsRetried) {
  std::vector<std::string> log;
  const auto path = fetch_dataset(options("/flaky.jsonl", 1), [&](std::string_view line) { log.emplace_back(line); });
  EXPECT_EQ(read(path), "abc");
  EXPECT_EQ(hits_, 2);
  bool said_retry = false;
  for (const std::string& line : log) said_retry = said_retry || line.find("retrying") != std::string::npos;
  EXPECT_TRUE(said_retry);
}

TEST_F(FetchHttp, GivesUpAfterTheRetries) {
  const std::string message = infra_error(options("/down.jsonl", 1));
  EXPECT_NE(message.find("HTTP status 503"), std::string::npos) << message;
  EXPECT_EQ(hits_, 2);  // the first try and one retry
  EXPECT_TRUE(cache_empty());
}

TEST_F(FetchHttp, ConnectionRefusedIsAnInfrastructureError) {
  FetchOptions o = options("/data/test.jsonl", 0);
  o.url = "http://127.0.0.1:" + std::to_string(testing::closed_port()) + "/test.jsonl";
  const std::string message = infra_error(o);
  EXPECT_NE(message.find(o.url), std::string::npos) << message;
  EXPECT_TRUE(cache_empty());
}

TEST_F(FetchHttp, HashMismatchOverHttp) {
  FetchOptions o = options("/data/test.jsonl", 0);
  o.sha256 = std::string(64, '0');
  EXPECT_THROW(fetch_dataset(o, nullptr), InputError);
  EXPECT_TRUE(cache_empty());
}

}  // namespace
}  // namespace mxg::probe
