// A long-lived child for the external protocol v2 (EXTERNAL_PROTOCOL.md): `/bin/sh -c COMMAND` in
// its own process group, lines written to its stdin, lines read from its stdout under a deadline, a
// size bound and an optional resident-memory bound, the tail of its stderr kept; stopped as a group.
// One owner thread at a time; nothing here is shared between workers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mxg::proc {

struct WorkerSpawn {
  std::string command;                                     // run by /bin/sh -c
  std::filesystem::path cwd;                               // its working directory
  std::vector<std::pair<std::string, std::string>> env;    // added to (or replacing in) mxguard's environment
};

struct LineLimits {
  std::chrono::steady_clock::time_point deadline;
  std::size_t max_bytes = 64 * 1024;  // a longer line (without its '\n') is TooLong
  std::uint64_t rss_limit_bytes = 0;  // 0: none; else the group's resident memory is watched
};

enum class LineStatus {
  Line,         // `line` holds one line without its '\n'
  Timeout,      // the deadline passed first
  Closed,       // stdout reached end of file (the worker exited or closed it)
  TooLong,      // more than max_bytes arrived without a newline
  MemoryLimit,  // the process group's resident memory passed rss_limit_bytes (`rss_bytes` says how much)
};

struct LineResult {
  LineStatus status = LineStatus::Line;
  std::string line;
  std::uint64_t rss_bytes = 0;
};

class WorkerProcess {
 public:
  // Starts the command with stdin, stdout and stderr connected to mxguard. InfraError when it
  // cannot be started at all (a command that starts and then fails is seen by the reads).
  explicit WorkerProcess(const WorkerSpawn& spawn);
  ~WorkerProcess();  // kill(): never leaves a process behind
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Writes `line` and a '\n'. False when the worker no longer reads its stdin (it exited).
  bool write_line(std::string_view line);

  // The next stdout line, meanwhile collecting stderr. Lines already buffered are returned first.
  LineResult read_line(const LineLimits& limits);

  // Whether the shell is still running (reaps it once it has exited).
  bool running();

  // Closes stdin and gives the worker `grace` to exit on its own, then kills the group.
  void stop(std::chrono::milliseconds grace);
  // SIGKILL to the whole group now, then reaps.
  void kill();

  // "exit status 1", "killed by signal 9 (Killed)", or "running" while it runs.
  std::string status();
  // The last `n` lines of what it wrote to stderr so far (everything that is readable now is read first).
  std::string stderr_tail(int n);
  // Resident memory of every process in the worker's group, from /proc.
  std::uint64_t group_rss_bytes() const;

 private:
  void drain_stderr_now();
  void reap_blocking();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;   // one end of a socketpair: writes use MSG_NOSIGNAL, so a dead worker is EPIPE, not SIGPIPE
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
  std::string out_buffer_;
  std::string err_tail_;
};

}  // namespace mxg::proc
