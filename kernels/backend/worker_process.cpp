// posix_spawn-based long-lived worker with bounded, deadline-limited line reads (see worker_process.hpp).
#include "kernels/backend/worker_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "kernels/backend/subprocess.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/interrupt_flag.hpp"

extern char** environ;

namespace mxg::proc {
namespace {

using Clock = std::chrono::steady_clock;

// How often the group's memory is measured while a read waits (a /proc scan costs ~1 ms).
constexpr auto kRssPollInterval = std::chrono::milliseconds(100);

void check(int rc, const char* what) {
  if (rc != 0) throw InfraError(fmt::format("worker: {} failed: {}", what, std::strerror(rc)));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void append_tail(std::string& tail, const char* data, std::size_t n) {
  tail.append(data, n);
  if (tail.size() > kTailBytes) tail.erase(0, tail.size() - kTailBytes);
}

// mxguard's environment with `extra` added, an existing NAME replaced.
std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    const std::string_view name = entry.substr(0, eq);
    const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

// Resident pages of one process and its process group, from /proc/PID/stat (fields 5 and 24,
// counted after the parenthesised command name, which may itself contain spaces and ')').
bool read_stat(const std::string& pid_dir, pid_t& pgrp, std::uint64_t& rss_pages) {
  std::ifstream in("/proc/" + pid_dir + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  for (int n = 3; fields >> field; ++n) {
    if (n == 5) pgrp = static_cast<pid_t>(std::stol(field));
    if (n == 24) {
      rss_pages = std::stoull(field);
      return true;
    }
  }
  return false;
}

}  // namespace

WorkerProcess::WorkerProcess(const WorkerSpawn& spawn) {
  int in_pair[2], out_pipe[2], err_pipe[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) check(errno, "socketpair");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(in_pair[0]);
    ::close(in_pair[1]);
    check(e, "pipe");
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    for (int fd : {in_pair[0], in_pair[1], out_pipe[0], out_pipe[1]}) ::close(fd);
    check(e, "pipe");
  }
  int child_in = in_pair[1], child_out = out_pipe[1], child_err = err_pipe[1];
  stdin_fd_ = in_pair[0];
  stdout_fd_ = out_pipe[0];
  stderr_fd_ = err_pipe[0];
  // The worker's half of stdin only receives; mxguard's half only sends.
  ::shutdown(child_in, SHUT_WR);
  ::shutdown(stdin_fd_, SHUT_RD);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc == 0) rc = posix_spawnattr_init(&attr);
  // Own process group (pgid = its pid): a hang or a crash is cleaned up by killing the group.
  if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, child_in, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, child_out, 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, child_err, 2);
  const std::string dir = spawn.cwd.string();
  if (rc == 0 && !dir.empty()) rc = posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());

  const std::vector<std::string> env = merged_environment(spawn.env);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", spawn.command.c_str(), nullptr};
  if (rc == 0) rc = posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(child_in);
  close_fd(child_out);
  close_fd(child_err);
  if (rc != 0) {
    close_fd(stdin_fd_);
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
    pid_ = -1;
    check(rc, "posix_spawn /bin/sh");
  }
  ::fcntl(stdout_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(stderr_fd_, F_SETFL, O_NONBLOCK);
}

WorkerProcess::~WorkerProcess() {
  kill();
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
}

bool WorkerProcess::write_line(std::string_view line) {
  if (stdin_fd_ < 0) return false;
  std::string data(line);
  data += '\n';
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(stdin_fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

LineResult WorkerProcess::read_line(const LineLimits& limits) {
  auto finish_line = [&](std::size_t newline) {
    LineResult r;
    r.line = out_buffer_.substr(0, newline);
    out_buffer_.erase(0, newline + 1);
    if (!r.line.empty() && r.line.back() == '\r') r.line.pop_back();
    // The answer only counts when the worker is still inside its memory bound once it has given it.
    if (limits.rss_limit_bytes > 0) {
      r.rss_bytes = group_rss_bytes();
      if (r.rss_bytes > limits.rss_limit_bytes) r.status = LineStatus::MemoryLimit;
    }
    return r;
  };
  auto next_rss_check = Clock::now();
  for (;;) {
    if (const auto newline = out_buffer_.find('\n'); newline != std::string::npos) {
      if (newline > limits.max_bytes) return {LineStatus::TooLong, {}, 0};
      return finish_line(newline);
    }
    if (out_buffer_.size() > limits.max_bytes) return {LineStatus::TooLong, {}, 0};
    if (stdout_fd_ < 0) return {LineStatus::Closed, {}, 0};

    const auto now = Clock::now();
    if (limits.rss_limit_bytes > 0 && now >= next_rss_check) {
      const std::uint64_t rss = group_rss_bytes();
      if (rss > limits.rss_limit_bytes) return {LineStatus::MemoryLimit, {}, rss};
      next_rss_check = now + kRssPollInterval;
    }
    // SIGINT/SIGTERM: stop waiting at once (the combination is re-run on --resume).
    if (now >= limits.deadline || g_interrupt_requested.load()) return {LineStatus::Timeout, {}, 0};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(limits.deadline - now) + std::chrono::milliseconds(1);
    if (limits.rss_limit_bytes > 0) wait = std::min(wait, std::chrono::milliseconds(kRssPollInterval));
    wait = std::min(wait, std::chrono::milliseconds(100));

    std::array<pollfd, 2> fds{{{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}}};
    const int ready = ::poll(fds.data(), stderr_fd_ >= 0 ? 2 : 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) throw InfraError(fmt::format("worker: poll failed: {}", std::strerror(errno)));
    if (ready <= 0) continue;
    if (fds[1].revents != 0) drain_stderr_now();
    if (fds[0].revents != 0) {
      std::array<char, 16384> buf{};
      const ssize_t n = ::read(stdout_fd_, buf.data(), buf.size());
      if (n > 0) {
        out_buffer_.append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close_fd(stdout_fd_);
      }
    }
  }
}

void WorkerProcess::drain_stderr_now() {
  if (stderr_fd_ < 0) return;
  std::array<char, 16384> buf{};
  for (;;) {
    const ssize_t n = ::read(stderr_fd_, buf.data(), buf.size());
    if (n > 0) {
      append_tail(err_tail_, buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) close_fd(stderr_fd_);
    return;
  }
}

bool WorkerProcess::running() {
  if (reaped_ || pid_ < 0) return false;
  const pid_t r = ::waitpid(pid_, &wait_status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

void WorkerProcess::reap_blocking() {
  if (reaped_ || pid_ < 0) return;
  while (::waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

void WorkerProcess::stop(std::chrono::milliseconds grace) {
  close_fd(stdin_fd_);  // end of requests: a well-behaved worker exits now
  const auto deadline = Clock::now() + grace;
  while (running() && Clock::now() < deadline) {
    drain_stderr_now();
    ::usleep(10'000);
  }
  kill();
}

void WorkerProcess::kill() {
  if (pid_ < 0) return;
  // The group may outlive the shell (a command it started in the background): kill it either way.
  ::kill(-pid_, SIGKILL);
  reap_blocking();
  drain_stderr_now();
}

std::string WorkerProcess::status() {
  if (running()) return "running";
  if (WIFEXITED(wait_status_)) return fmt::format("exit status {}", WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) {
    const int sig = WTERMSIG(wait_status_);
    return fmt::format("killed by signal {} ({})", sig, ::strsignal(sig));
  }
  return "ended";
}

std::string WorkerProcess::stderr_tail(int n) {
  drain_stderr_now();
  return last_lines(err_tail_, n);
}

std::uint64_t WorkerProcess::group_rss_bytes() const {
  if (pid_ < 0) return 0;
  static const long page = ::sysconf(_SC_PAGESIZE);
  std::uint64_t pages = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  while (const dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t pgrp = 0;
    std::uint64_t rss = 0;
    try {
      if (read_stat(e->d_name, pgrp, rss) && pgrp == pid_) pages += rss;
    } catch (const std::exception&) {
      // A process that vanished mid-read or an unparsable field: it holds no memory of ours.
    }
  }
  ::closedir(proc);
  return pages * static_cast<std::uint64_t>(page);
}

}  // namespace mxg::proc
