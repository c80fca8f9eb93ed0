// The external backend's command runner: exit status, signals, captured tails, working
// directory, timeouts that kill the whole process group, and shell quoting.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/subprocess.hpp"
#include "kernels/backend/tests/temp_path.hpp"

namespace mxg::proc {
namespace {

// Processes of group `pgid` that are still running, from /proc. A killed child whose parent died is
// a zombie until PID 1 reaps it (how soon depends on the container's init), and kill(-pgid, 0)
// still finds zombies; a zombie has exited, so it does not count as surviving.
int running_members(pid_t pgid) {
  int running = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z' && state != 'X') ++running;
  }
  return running;
}

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScratchDir;

TEST(RunShell, ReportsExitStatusAndCapturesBothStreams) {
  ScratchDir dir;
  const auto r = run_shell("echo out; echo err >&2; exit 7", dir.path(), 10);
  EXPECT_TRUE(r.exited);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.stdout_tail, "out\n");
  EXPECT_EQ(r.stderr_tail, "err\n");
  EXPECT_EQ(r.status(), "exit status 7");
  EXPECT_TRUE(run_shell("true", dir.path(), 10).ok());
}

TEST(RunShell, RunsInTheGivenDirectoryWithNoStdin) {
  ScratchDir dir;
  const auto r = run_shell("pwd; cat; echo done", dir.path(), 10);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.stdout_tail, std::filesystem::canonical(dir.path()).string() + "\ndone\n");
}

TEST(RunShell, ReportsATerminatingSignal) {
  ScratchDir dir;
  const auto r = run_shell("kill -9 $$", dir.path(), 10);
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_THAT(r.status(), HasSubstr("killed by signal 9"));
}

TEST(RunShell, TimeoutKillsTheWholeProcessGroup) {
  ScratchDir dir;
  const auto start = std::chrono::steady_clock::now();
  // The shell records its pid (= the group id) and leaves a background child behind it.
  const auto r = run_shell("echo $$ > pgid; sleep 30 & sleep 30", dir.path(), 0.5);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status(), HasSubstr("timed out"));
  EXPECT_LT(elapsed, 5.0);
  pid_t pgid = 0;
  std::ifstream(dir / "pgid") >> pgid;
  ASSERT_GT(pgid, 0);
  // Nothing of the group survives (the kill is asynchronous for the background child).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = running_members(pgid) == 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone);
}

TEST(RunShell, ABackgroundChildHoldingThePipeDoesNotBlockPastAShortGrace) {
  ScratchDir dir;
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_shell("sleep 3 & echo started", dir.path(), 60);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.stdout_tail, "started\n");
  EXPECT_LT(elapsed, 2.5);
}

TEST(RunShell, KeepsOnlyTheTailOfLongOutput) {
  ScratchDir dir;
  const auto r = run_shell("i=0; while [ $i -lt 20000 ]; do echo line$i >&2; i=$((i+1)); done", dir.path(), 60);
  EXPECT_TRUE(r.ok());
  EXPECT_LE(r.stderr_tail.size(), kTailBytes);
  EXPECT_THAT(r.stderr_tail, HasSubstr("line19999\n"));
  EXPECT_THAT(r.stderr_tail, Not(HasSubstr("line100\n")));
}

TEST(ShellQuote, EveryStringReachesTheCommandAsOneUninterpretedWord) {
  ScratchDir dir;
  for (const std::string s : {"plain", "with space", "it's", "$(touch pwned)", "`touch pwned`", "a\"b\\c", "*", ""}) {
    const auto r = run_shell("printf %s " + shell_quote(s), dir.path(), 10);
    EXPECT_EQ(r.stdout_tail, s);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
}

TEST(LastLines, KeepsTheLastNLines) {
  EXPECT_EQ(last_lines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(last_lines("a\nb\nc", 5), "a\nb\nc");
  EXPECT_EQ(last_lines("", 3), "");
  EXPECT_EQ(last_lines("only\n\n", 1), "only");
}

}  // namespace
}  // namespace mxg::proc
