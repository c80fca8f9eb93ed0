// A cpp-httplib server on 127.0.0.1 (an ephemeral port) for the probe client's tests: handlers are
// registered first, then it serves on a background thread until destroyed.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

namespace mxg::probe::testing {

class TestHttpServer {
 public:
  // `threads`: a keep-alive connection holds one of cpp-httplib's worker threads, so this must be at
  // least the number of connections a test opens.
  explicit TestHttpServer(std::size_t threads = 16);
  ~TestHttpServer();  // stops and joins
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  httplib::Server& routes() { return server_; }  // register handlers before start()
  void start();                                  // binds, serves, returns once accepting
  int port() const { return port_; }
  std::string base_url() const;

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  int listen_fd_ = -1;
};

// Handlers running at once, and the most seen; a handler holds a Scope while it works.
class ConcurrencyGauge {
 public:
  class Scope {
   public:
    explicit Scope(ConcurrencyGauge& g);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ConcurrencyGauge& gauge_;
  };
  int max() const { return max_.load(); }

 private:
  std::atomic<int> now_{0}, max_{0};
};

// A 127.0.0.1 port nothing listens on: bound by the OS, then released (connections are refused).
int closed_port();

}  // namespace mxg::probe::testing
