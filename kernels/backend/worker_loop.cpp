// The request loop of `mxguard kernel worker` (see worker_loop.hpp).
#include "kernels/backend/worker_loop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/worker_protocol.hpp"
#include "kernels/common/errors.hpp"

namespace mxg {
namespace {

// The protocol's stdout: a private copy of fd 1 taken before fd 1 is pointed at stderr.
class ProtocolOut {
 public:
  ProtocolOut() {
    std::fflush(stdout);
    fd_ = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (fd_ < 0) throw InfraError(fmt::format("kernel worker: cannot duplicate stdout: {}", std::strerror(errno)));
    saved_ = ::dup(STDOUT_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
  }
  ~ProtocolOut() {
    std::fflush(stdout);
    if (saved_ >= 0) {
      ::dup2(saved_, STDOUT_FILENO);
      ::close(saved_);
    }
    ::close(fd_);
  }
  ProtocolOut(const ProtocolOut&) = delete;
  ProtocolOut& operator=(const ProtocolOut&) = delete;

  void write_line(const std::string& line) {
    const std::string data = line + "\n";
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw InfraError(fmt::format("kernel worker: cannot write to stdout: {}", std::strerror(errno)));
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
};

enum class Read { Line, End, TooLong };

// One request line from stdin, bounded by the protocol's line size.
Read read_request_line(std::string& buffer, std::string& line) {
  for (;;) {
    if (const auto nl = buffer.find('\n'); nl != std::string::npos) {
      if (nl > worker::kMaxLineBytes) return Read::TooLong;
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return Read::Line;
    }
    if (buffer.size() > worker::kMaxLineBytes) return Read::TooLong;
    std::array<char, 8192> chunk{};
    const ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Read::End;  // a partial last line without '\n' is not a request
    buffer.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

}  // namespace

int serve_worker(FusedMoeBackend& backend, const std::map<std::string, std::string>& versions) {
  ProtocolOut out;
  const BackendInfo info = backend.info();
  out.write_line(worker::format_hello({info.kernel, "", info.device, versions}));

  std::string buffer, line;
  for (;;) {
    const Read r = read_request_line(buffer, line);
    if (r == Read::End) return exit_code::kPass;
    if (r == Read::TooLong) {
      out.write_line(worker::format_response(
          {"", false, fmt::format("request line longer than {} bytes", worker::kMaxLineBytes), true}));
      return exit_code::kUsage;
    }
    worker::Request request;
    try {
      request = worker::parse_request(line);
    } catch (const InputError& e) {
      out.write_line(worker::format_response({"", false, e.what(), false}));
      continue;
    }
    worker::Response response{request.id, true, "", false};
    int exit_after = -1;
    try {
      const FusedMoeProblem problem = read_problem(request.problem);
      const auto start = std::chrono::steady_clock::now();
      const Tensor y = backend.run_combination(problem, request.id);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      write_output(request.output, y,
                   {{"backend", info.backend},
                    {"kernel", info.kernel},
                    {"device", info.device},
                    {"id", request.id},
                    {"seconds", fmt::format("{:.6f}", seconds)}});
    } catch (const InputError& e) {
      response = {request.id, false, e.what(), false};
    } catch (const std::exception& e) {
      // The device (or the process) may be unusable now: say so, and let mxguard start a fresh worker.
      response = {request.id, false, e.what(), true};
      exit_after = exit_code::kInfra;
    }
    out.write_line(worker::format_response(response));
    if (exit_after >= 0) return exit_after;
  }
}

}  // namespace mxg
