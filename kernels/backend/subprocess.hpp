// Running a user command for the external backend: /bin/sh -c in a given directory, its own
// process group, stdout and stderr captured (the tails kept), killed as a group on timeout.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mxg::proc {

struct CommandResult {
  bool timed_out = false;
  bool interrupted = false;  // SIGINT/SIGTERM arrived while it ran: killed like a timeout
  bool exited = false;    // exited normally; exit_code is meaningful
  int exit_code = -1;
  int term_signal = 0;    // signal that ended it, when !exited
  std::string stdout_tail;  // the last kTailBytes of each stream
  std::string stderr_tail;
  double seconds = 0;

  bool ok() const { return exited && exit_code == 0 && !timed_out && !interrupted; }
  // "exit status 1", "killed by signal 9 (Killed)", "timed out after 5 s (process group killed)".
  std::string status() const;
};

inline constexpr std::size_t kTailBytes = 64 * 1024;

// Runs `/bin/sh -c command` with working directory `cwd` and stdin from /dev/null. On timeout the
// whole process group gets SIGTERM, then SIGKILL 2 s later. Throws InfraError only when the
// command cannot be started at all.
CommandResult run_shell(const std::string& command, const std::filesystem::path& cwd, double timeout_seconds);

// Single-quotes `s` for /bin/sh, so a path is always one word and nothing in it is interpreted.
std::string shell_quote(std::string_view s);

// The last `n` lines of `text` (without a trailing empty line).
std::string last_lines(std::string_view text, int n);

}  // namespace mxg::proc
