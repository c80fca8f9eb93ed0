#include "harness/standin/pipelining_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace mxg::standin {
namespace {

// Waits until `sock` is readable (events POLLIN) or writable (POLLOUT), or the time has passed.
bool wait_for(int sock, short events, std::chrono::microseconds timeout) {
  pollfd p{sock, events, 0};
  const int ms = static_cast<int>(std::max<std::int64_t>(0, (timeout.count() + 999) / 1000));
  for (;;) {
    const int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &a.sin_addr, text.data(), text.size());
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &a.sin6_addr, text.data(), text.size());
    port = ntohs(a.sin6_port);
  }
  ip = text.data();
}

// One connection's stream for all of its requests: bytes read ahead stay for the next request.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int sock, std::chrono::microseconds read_timeout, std::chrono::microseconds write_timeout)
      : sock_(sock), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  bool has_buffered() const { return begin_ < end_; }

  bool is_readable() const override { return has_buffered() || wait_for(sock_, POLLIN, read_timeout_); }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (!has_buffered()) {
      if (!wait_for(sock_, POLLIN, read_timeout_)) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    const std::size_t take = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_.data() + begin_, take);
    begin_ += take;
    return static_cast<ssize_t>(take);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  int sock_;
  std::chrono::microseconds read_timeout_, write_timeout_;
  std::array<char, 16 * 1024> buffer_{};
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace

bool PipeliningServer::process_and_close_socket(socket_t sock) {
  using std::chrono::microseconds;
  using std::chrono::seconds;
  ConnectionStream stream(sock, seconds(read_timeout_sec_) + microseconds(read_timeout_usec_),
                          seconds(write_timeout_sec_) + microseconds(write_timeout_usec_));
  bool ok = false;
  // The keep-alive loop of httplib's own server, except that a request already in the buffer needs
  // no wait for the socket.
  for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    if (!stream.has_buffered() && !wait_for(sock, POLLIN, seconds(keep_alive_timeout_sec_))) break;
    bool connection_closed = false;
    ok = process_request(stream, left == 1, connection_closed, nullptr);
    if (!ok || connection_closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace mxg::standin
