// Running the real `mxguard` binary from the matrix runner's end-to-end tests: synchronously, or as
// a child the test can poll, interrupt and kill (resume tests), with stdout and stderr kept.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace mxg::matrix::testing {

// The binary under test (MXG_TEST_MXGUARD, set by CMake).
std::filesystem::path mxguard_binary();

struct ProcessOutcome {
  bool exited = false;  // ended through exit(); exit_code is meaningful
  int exit_code = -1;
  int term_signal = 0;  // the signal that ended it when !exited
  std::string out, err;
};

// `mxguard ARGS...` started in `cwd`, stdin /dev/null, stdout and stderr into files of `log_dir`.
// The environment is the test's minus GITHUB_STEP_SUMMARY (a test run inside CI must not write the
// job's step summary), plus `extra_env` ("NAME=value"). SIGINT and SIGTERM start at their defaults
// even when the test runner ignores them, so an interrupt test sees the runner's own handler.
class MxguardProcess {
 public:
  MxguardProcess(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                 const std::filesystem::path& log_dir, const std::vector<std::string>& extra_env = {});
  ~MxguardProcess();  // a child still running is killed and reaped: no stray processes; its log files removed
  MxguardProcess(const MxguardProcess&) = delete;
  MxguardProcess& operator=(const MxguardProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();             // false once it has ended (and then it is reaped)
  void send(int signal_number);
  ProcessOutcome wait();      // blocks until it ends
  const std::filesystem::path& stdout_path() const { return out_path_; }  // written as it runs

 private:
  void reap(int status);
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::filesystem::path out_path_, err_path_;
};

// Runs mxguard to completion.
ProcessOutcome run_mxguard(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                           const std::vector<std::string>& extra_env = {});

std::string read_text(const std::filesystem::path& path);

// The decompressed content of a gzip file (zlib directly, not the runner's reader).
std::string read_gzip_text(const std::filesystem::path& path);

// Lines of `path` that end in '\n' (a line being written when a process was killed does not count).
// A path that is absent but has a ".gz" sibling (a closed run's results.jsonl) is read from that.
std::vector<std::string> complete_lines(const std::filesystem::path& path);

// Polls `path` until it has at least `lines` complete lines. False when the child ended first or
// `limit` passed: the caller then cannot interrupt mid-run and must say so.
bool wait_for_lines(const std::filesystem::path& path, std::size_t lines, MxguardProcess& child,
                    std::chrono::milliseconds limit);

}  // namespace mxg::matrix::testing
