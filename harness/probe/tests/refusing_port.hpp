// A 127.0.0.1 port that refuses connections for as long as the object lives: bound by this process
// and never listened on, so no parallel test (or stray server) can take it, unlike a fixed port number
// or a port that was bound and released.
#pragma once

#include <string>

namespace mxg::probe::testing {

class RefusingPort {
 public:
  RefusingPort();  // failure -> std::runtime_error
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace mxg::probe::testing
