// The long-lived worker process: line reads under a deadline, a size bound and a memory bound,
// stderr kept, exits and kills seen as such, the whole process group killed, no SIGPIPE.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/tests/temp_path.hpp"
#include "kernels/backend/worker_process.hpp"

namespace mxg::proc {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using Clock = std::chrono::steady_clock;

LineLimits within(double seconds, std::uint64_t rss_limit = 0) {
  return {Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)),
          64 * 1024, rss_limit};
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Whether `pid` still runs: a zombie (killed, not yet reaped by whoever inherited it) does not.
bool still_running(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

TEST(WorkerProcess, AnswersLineByLineAndKeepsItsStderr) {
  ScratchDir dir;
  WorkerProcess w({"echo ready; while read -r l; do echo \"got $l\"; echo \"log $l\" >&2; done", dir.path(), {}});
  auto r = w.read_line(within(10));
  ASSERT_EQ(r.status, LineStatus::Line);
  EXPECT_EQ(r.line, "ready");
  for (const std::string word : {"one", "two"}) {
    ASSERT_TRUE(w.write_line(word));
    r = w.read_line(within(10));
    ASSERT_EQ(r.status, LineStatus::Line);
    EXPECT_EQ(r.line, "got " + word);
  }
  w.stop(std::chrono::seconds(5));  // stdin closed: the loop ends by itself
  EXPECT_EQ(w.status(), "exit status 0");
  EXPECT_EQ(w.stderr_tail(5), "log one\nlog two");
}

TEST(WorkerProcess, RunsInTheGivenDirectoryWithTheAddedEnvironment) {
  ScratchDir dir;
  WorkerProcess w({"pwd; echo \"$MXG_TEST_VALUE\"", dir.path(), {{"MXG_TEST_VALUE", "a b"}}});
  EXPECT_EQ(w.read_line(within(10)).line, std::filesystem::canonical(dir.path()).string());
  EXPECT_EQ(w.read_line(within(10)).line, "a b");
}

TEST(WorkerProcess, DeadlineEndsTheWaitAndKillEndsTheWorker) {
  ScratchDir dir;
  WorkerProcess w({"sleep 30", dir.path(), {}});
  const auto start = Clock::now();
  EXPECT_EQ(w.read_line(within(0.3)).status, LineStatus::Timeout);
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_TRUE(w.running());
  w.kill();
  EXPECT_FALSE(w.running());
  EXPECT_THAT(w.status(), HasSubstr("killed by signal 9"));
}

TEST(WorkerProcess, KillTakesTheWholeProcessGroup) {
  ScratchDir dir;
  // The shell leaves a background child behind it, as a Python adapter's subprocess would.
  WorkerProcess w({"sleep 30 & echo $!; wait", dir.path(), {}});
  const auto r = w.read_line(within(10));
  ASSERT_EQ(r.status, LineStatus::Line);
  const pid_t child = static_cast<pid_t>(std::stol(r.line));
  w.kill();
  // The orphan is re-parented (to init, or a subreaper that may never reap it): dead means gone or a zombie.
  const auto start = Clock::now();
  while (still_running(child) && seconds_since(start) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(still_running(child));
}

TEST(WorkerProcess, ExitIsSeenAsClosedWithItsStatusAndStderr) {
  ScratchDir dir;
  WorkerProcess w({"echo 'RuntimeError: HIP error' >&2; exit 3", dir.path(), {}});
  EXPECT_EQ(w.read_line(within(10)).status, LineStatus::Closed);
  w.stop(std::chrono::seconds(5));
  EXPECT_EQ(w.status(), "exit status 3");
  EXPECT_EQ(w.stderr_tail(3), "RuntimeError: HIP error");
}

TEST(WorkerProcess, LineBeyondTheSizeBoundIsTooLong) {
  ScratchDir dir;
  WorkerProcess w({"head -c 200000 /dev/zero | tr '\\0' x; echo; sleep 30", dir.path(), {}});
  const auto start = Clock::now();
  EXPECT_EQ(w.read_line(within(10)).status, LineStatus::TooLong);
  EXPECT_LT(seconds_since(start), 5.0);  // not the whole deadline, and not the sleep
}

TEST(WorkerProcess, WritingToAWorkerThatExitedFailsInsteadOfRaisingSigpipe) {
  ScratchDir dir;
  WorkerProcess w({"exit 0", dir.path(), {}});
  EXPECT_EQ(w.read_line(within(10)).status, LineStatus::Closed);
  const auto start = Clock::now();
  while (w.running() && seconds_since(start) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(w.write_line("anyone there?"));  // the test process is still alive: no SIGPIPE
}

TEST(WorkerProcess, ResidentMemoryPastTheBoundEndsTheWait) {
  ScratchDir dir;
  // 96 MiB written (so resident), then silence: only the memory bound can end the wait early.
  WorkerProcess w({"exec python3 -c \"import time; b = b'x' * (96 << 20); time.sleep(30)\"", dir.path(), {}});
  const auto start = Clock::now();
  const auto r = w.read_line(within(20, 48u << 20));
  EXPECT_EQ(r.status, LineStatus::MemoryLimit);
  EXPECT_GT(r.rss_bytes, 48u << 20);
  EXPECT_LT(seconds_since(start), 15.0);
}

TEST(WorkerProcess, AnswerGivenPastTheMemoryBoundIsNotAccepted) {
  ScratchDir dir;
  // Grows and answers at once: the bound is checked when the line is complete, not only by polling.
  WorkerProcess w({"exec python3 -c \"import time; b = b'x' * (96 << 20); print('done', flush=True); time.sleep(30)\"",
                   dir.path(), {}});
  const auto r = w.read_line(within(20, 48u << 20));
  EXPECT_EQ(r.status, LineStatus::MemoryLimit);
}

}  // namespace
}  // namespace mxg::proc
