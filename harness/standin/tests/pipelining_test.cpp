// A client that pipelines requests (several in one write on one connection) gets every answer, in
// order: the stand-in once answered only the first (harness/standin/pipelining_server.hpp says why).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/standin/answer_writer.hpp"
#include "harness/standin/tests/standin_fixture.hpp"

namespace mxg::standin {
namespace {

using test::Running;
using test::test_options;

// A raw loopback connection: the test writes bytes exactly as it wants them on the wire.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send_all(const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Everything the server sends until it has sent `responses` complete responses (each framed by
  // Content-Length) or `limit` passes without a byte.
  std::vector<std::pair<int, std::string>> read_responses(std::size_t responses, std::chrono::seconds limit) {
    std::vector<std::pair<int, std::string>> out;
    std::string buffer;
    while (out.size() < responses) {
      if (auto r = take_response(buffer)) {
        out.push_back(*r);
        continue;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(limit.count() * 1000)) <= 0) break;
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  // One complete response off the front of `buffer`: (status, body), or nothing yet.
  static std::optional<std::pair<int, std::string>> take_response(std::string& buffer) {
    const auto head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    const std::string head = buffer.substr(0, head_end);
    const auto at = head.find("Content-Length: ");
    const std::size_t length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
    if (buffer.size() < head_end + 4 + length) return std::nullopt;
    const int status = std::stoi(head.substr(head.find(' ') + 1, 3));
    std::string body = buffer.substr(head_end + 4, length);
    buffer.erase(0, head_end + 4 + length);
    return std::make_pair(status, body);
  }

  int fd_;
  bool connected_ = false;
};

std::string post_generate(const std::string& prompt) {
  const std::string body = nlohmann::json{{"text", prompt}, {"sampling_params", {{"max_new_tokens", 64}}}}.dump();
  return "POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(StandinPipelining, EveryRequestOfOneWriteIsAnsweredInOrder) {
  auto o = test_options();
  o.accuracy = 1.0;
  Running r(o, probe::generate_gsm8k(6, 4));
  RawConnection c(r.server->port());
  ASSERT_TRUE(c.connected());
  std::string burst = "GET /get_model_info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (std::size_t i = 3; i < 6; ++i) burst += post_generate(r.prompt_for(i));
  burst += "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_TRUE(c.send_all(burst));  // five requests, one write

  const auto responses = c.read_responses(5, std::chrono::seconds(10));
  ASSERT_EQ(responses.size(), 5u);
  for (const auto& [status, body] : responses) EXPECT_EQ(status, 200) << body;
  EXPECT_TRUE(nlohmann::json::parse(responses[0].second).contains("model_path"));
  for (std::size_t i = 1; i <= 3; ++i) {
    // Accuracy 1: each answer ends in its own question's label, so the order is checked too.
    const auto text = nlohmann::json::parse(responses[i].second)["text"].get<std::string>();
    EXPECT_TRUE(text.ends_with("#### " + raw_label(r.data[2 + i].answer))) << i << ": " << text;
  }
  EXPECT_TRUE(nlohmann::json::parse(responses[4].second).contains("data"));
  EXPECT_EQ(r.server->stats().generation_requests, 3);
}

TEST(StandinPipelining, ARequestSplitAcrossWritesStillWorks) {
  Running r(test_options(), probe::generate_gsm8k(4, 4));
  RawConnection c(r.server->port());
  ASSERT_TRUE(c.connected());
  const std::string request = post_generate(r.prompt_for(3));
  ASSERT_TRUE(c.send_all(request.substr(0, 40)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(c.send_all(request.substr(40) + "GET /get_model_info HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto responses = c.read_responses(2, std::chrono::seconds(10));
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].first, 200);
  EXPECT_EQ(responses[1].first, 200);
}

}  // namespace
}  // namespace mxg::standin
