// The probe client tests' HTTP server: cpp-httplib with enough threads and unlimited keep-alive.
#include "harness/probe/tests/test_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace mxg::probe::testing {

TestHttpServer::TestHttpServer(std::size_t threads) {
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Debian's compiled 0.11 closes a connection after 5 requests by default; the client's
  // connection reuse is part of what is tested.
  server_.set_keep_alive_max_count(1000000);
  // Headers and body go out in separate writes; with Nagle on, each answer waits for a delayed ACK.
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_timeout(2);  // bounds how long a stop waits for an idle connection
  // Remember the listening socket so start() can raise its backlog (the library listens with 5: a
  // burst of connects overflows it and the dropped SYNs come back a second later).
  server_.set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd_ = sock;
  });
}

TestHttpServer::~TestHttpServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void TestHttpServer::start() {
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("TestHttpServer: cannot bind 127.0.0.1");
  if (::listen(listen_fd_, 1024) != 0) throw std::runtime_error("TestHttpServer: cannot raise the listen backlog");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so wait for it before a test can end.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server_.is_running()) {
    if (std::chrono::steady_clock::now() > give_up) throw std::runtime_error("TestHttpServer: did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string TestHttpServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

ConcurrencyGauge::Scope::Scope(ConcurrencyGauge& g) : gauge_(g) {
  const int now = ++gauge_.now_;
  int seen = gauge_.max_.load();
  while (now > seen && !gauge_.max_.compare_exchange_weak(seen, now)) {
  }
}

ConcurrencyGauge::Scope::~Scope() { --gauge_.now_; }

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("closed_port: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("closed_port: bind failed");
  }
  ::close(fd);  // never listened on: a connect is refused
  return ntohs(addr.sin_port);
}

}  // namespace mxg::probe::testing
