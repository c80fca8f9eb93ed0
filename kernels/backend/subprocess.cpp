// posix_spawn-based command runner with timeout and captured output (see subprocess.hpp).
#include "kernels/backend/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/interrupt_flag.hpp"
#include "kernels/common/seconds.hpp"

extern char** environ;

namespace mxg::proc {
namespace {

using Clock = std::chrono::steady_clock;

// Owns a pipe end; closes it once.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

void append_tail(std::string& tail, const char* data, std::size_t n) {
  tail.append(data, n);
  if (tail.size() > kTailBytes) tail.erase(0, tail.size() - kTailBytes);
}

// Reads whatever is available; returns false at end of file.
bool drain(Fd& fd, std::string& tail) {
  std::array<char, 8192> buf{};
  const ssize_t n = ::read(fd.fd, buf.data(), buf.size());
  if (n > 0) {
    append_tail(tail, buf.data(), static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  fd.reset();
  return false;
}

// Reads without blocking until the pipe is empty or closed.
void drain_available(Fd& fd, std::string& tail) {
  if (fd.fd < 0) return;
  ::fcntl(fd.fd, F_SETFL, O_NONBLOCK);
  std::array<char, 8192> buf{};
  for (ssize_t n; (n = ::read(fd.fd, buf.data(), buf.size())) > 0;) append_tail(tail, buf.data(), static_cast<std::size_t>(n));
  fd.reset();
}

void check(int rc, const char* what) {
  if (rc != 0) throw InfraError(fmt::format("external command: {} failed: {}", what, std::strerror(rc)));
}

}  // namespace

std::string CommandResult::status() const {
  if (interrupted) return fmt::format("interrupted after {:.3g} s (process group killed)", seconds);
  if (timed_out) return fmt::format("timed out after {:.3g} s (process group killed)", seconds);
  if (exited) return fmt::format("exit status {}", exit_code);
  return fmt::format("killed by signal {} ({})", term_signal, ::strsignal(term_signal));
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string last_lines(std::string_view text, int n) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  std::size_t start = text.size();
  for (int lines = 0; start > 0; --start) {
    if (text[start - 1] == '\n' && ++lines == n) break;
  }
  return std::string(text.substr(start));
}

CommandResult run_shell(const std::string& command, const std::filesystem::path& cwd, double timeout_seconds) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) check(errno, "pipe");
  Fd out_read{out_pipe[0]}, out_write{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) check(errno, "pipe");
  Fd err_read{err_pipe[0]}, err_write{err_pipe[1]};

  posix_spawn_file_actions_t actions;
  check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
  posix_spawnattr_t attr;
  check(posix_spawnattr_init(&attr), "posix_spawnattr_init");
  // Own process group (pgid = child pid) so a timeout can kill everything the command started.
  check(posix_spawnattr_setpgroup(&attr, 0), "posix_spawnattr_setpgroup");
  check(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP), "posix_spawnattr_setflags");
  check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "addopen");
  check(posix_spawn_file_actions_adddup2(&actions, out_write.fd, 1), "adddup2");
  check(posix_spawn_file_actions_adddup2(&actions, err_write.fd, 2), "adddup2");
  const std::string dir = cwd.string();
  check(posix_spawn_file_actions_addchdir_np(&actions, dir.c_str()), "addchdir");

  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  const auto start = Clock::now();
  const int spawn_rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  check(spawn_rc, "posix_spawn /bin/sh");
  out_write.reset();
  err_write.reset();

  CommandResult result;
  const auto deadline = start + seconds_to_duration(timeout_seconds);
  int wait_status = 0;
  bool reaped = false;
  // Read both pipes until the child exits and the pipes close. A grandchild that keeps a pipe
  // open after the shell exited gets a short grace period, not the whole timeout.
  std::optional<Clock::time_point> drain_deadline;
  while (out_read.fd >= 0 || err_read.fd >= 0 || !reaped) {
    if (!reaped) {
      const pid_t r = ::waitpid(pid, &wait_status, WNOHANG);
      if (r == pid) {
        reaped = true;
        drain_deadline = Clock::now() + std::chrono::seconds(1);
      }
    }
    const auto now = Clock::now();
    // Ctrl-C must not wait for the command to finish or time out (H8): kill it like a timeout.
    const bool stop = g_interrupt_requested.load();
    if (!reaped && (now >= deadline || stop)) {
      result.timed_out = !stop;
      result.interrupted = stop;
      ::kill(-pid, SIGTERM);
      const auto grace = now + std::chrono::seconds(2);
      while (::waitpid(pid, &wait_status, WNOHANG) == 0 && Clock::now() < grace) ::usleep(20'000);
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &wait_status, 0);
      reaped = true;
      break;
    }
    if (reaped && (out_read.fd < 0 && err_read.fd < 0)) break;
    if (reaped && now >= *drain_deadline) break;
    std::array<pollfd, 2> fds{{{out_read.fd, POLLIN, 0}, {err_read.fd, POLLIN, 0}}};
    const int ready = ::poll(fds.data(), fds.size(), 20);
    if (ready > 0) {
      if (fds[0].revents != 0) drain(out_read, result.stdout_tail);
      if (fds[1].revents != 0) drain(err_read, result.stderr_tail);
    }
  }
  // Whatever is still buffered after a timeout or the grace period.
  drain_available(out_read, result.stdout_tail);
  drain_available(err_read, result.stderr_tail);

  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!result.timed_out && !result.interrupted) {
    result.exited = WIFEXITED(wait_status);
    result.exit_code = result.exited ? WEXITSTATUS(wait_status) : -1;
    result.term_signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
  } else {
    result.term_signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
  }
  return result;
}

}  // namespace mxg::proc
