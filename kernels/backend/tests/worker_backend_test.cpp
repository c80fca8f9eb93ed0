// The persistent-worker backend (external protocol v2) against real workers: mxguard's own
// `kernel worker` gives the host backend's exact bytes from one process; shell workers that crash,
// hang, answer garbage, the wrong id or an error cost exactly the request they were given, and the
// next request runs on a fresh worker (or on the same one, after a plain error).
#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/subprocess.hpp"
#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/backend/tests/temp_path.hpp"
#include "kernels/backend/worker_backend.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

FusedMoeProblem sample_problem() {
  const MoeShape s{4, 96, 128, 64, 64, 2, 5};
  return prepare_device(make_canonical(s, 23), consistent_prep(GateMode::Interleave, true),
                        correct_flags(s, GateMode::Interleave, true));
}

const std::string kHello = R"('{"type":"hello","protocol":"mxguard-worker/2","kernel":"sh-test","device":"none"}')";

std::string mxguard_worker() { return "exec " + proc::shell_quote(MXG_TEST_MXGUARD) + " kernel worker --backend host --threads 1"; }

// A worker that misbehaves with `fault` on its first request only; once `marker` exists (the fault
// happened), a restarted worker is mxguard's own host worker.
std::string faulty_once(const ScratchDir& dir, const std::string& fault) {
  const std::string marker = proc::shell_quote((dir / "faulted").string());
  return "if [ -e " + marker + " ]; then " + mxguard_worker() + "; fi; echo " + kHello + "; read -r l; touch " + marker +
         "; " + fault;
}

struct Logged {
  std::vector<std::string> lines;
  WorkerBackendSettings settings(const std::string& command, double timeout = 60) {
    WorkerBackendSettings s;
    s.command = command;
    s.timeout_seconds = timeout;
    s.log = [this](const std::string& line) { lines.push_back(line); };
    return s;
  }
};

std::string infra_error_of(FusedMoeBackend& b, const FusedMoeProblem& p, const std::string& id) {
  try {
    b.run_combination(p, id);
  } catch (const InfraError& e) {
    return e.what();
  }
  return "(no InfraError)";
}

TEST(WorkerBackend, MxguardsOwnWorkerGivesTheHostBytesFromOneProcess) {
  const auto p = sample_problem();
  BackendOptions one_thread;
  one_thread.threads = 1;
  const auto host = make_backend("host", one_thread);
  const Tensor expected = host->run(p);
  Logged log;
  auto b = make_worker_backend(log.settings(mxguard_worker()));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b->run_combination(p, "c" + std::to_string(i)).same_bytes(expected)) << i;
  ASSERT_EQ(log.lines.size(), 1u);  // one start, no restart: the same process answered all four
  EXPECT_THAT(log.lines[0], HasSubstr("started"));
  EXPECT_EQ(b->info().backend, "external");
  EXPECT_EQ(b->info().kernel, host->info().kernel);  // the hello names the real kernel
  EXPECT_THAT(b->info().device, HasSubstr(host->info().device));
  EXPECT_EQ(b->info().versions.count("mxguard"), 1u);
}

TEST(WorkerBackend, WorkerThatExitsBeforeItsHelloFailsUpFrontWithItsStderr) {
  Logged log;
  try {
    make_worker_backend(log.settings("echo 'ModuleNotFoundError: No module named aiter' >&2; exit 3"));
    FAIL() << "no InfraError";
  } catch (const InfraError& e) {
    EXPECT_THAT(e.what(), HasSubstr("did not start"));
    EXPECT_THAT(e.what(), HasSubstr("exit status 3"));
    EXPECT_THAT(e.what(), HasSubstr("No module named aiter"));
  }
}

TEST(WorkerBackend, WorkerWithoutHelloWithinTheTimeoutFailsUpFront) {
  Logged log;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(make_worker_backend(log.settings("echo compiling >&2; sleep 30", 0.5)), InfraError);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(WorkerBackend, HelloOfAnotherProtocolVersionIsRefused) {
  Logged log;
  try {
    make_worker_backend(log.settings(R"(echo '{"type":"hello","protocol":"mxguard-worker/3","kernel":"k"}'; sleep 30)"));
    FAIL() << "no InfraError";
  } catch (const InfraError& e) {
    EXPECT_THAT(e.what(), HasSubstr("mxguard-worker/3"));
  }
}

TEST(WorkerBackend, WorkerSeesTheProtocolVersionInItsEnvironment) {
  Logged log;
  auto b = make_worker_backend(log.settings(
      R"(echo "{\"type\":\"hello\",\"protocol\":\"mxguard-worker/2\",\"kernel\":\"k\",\"device\":\"v$MXGUARD_WORKER_PROTOCOL\"}"; read -r l)"));
  EXPECT_EQ(b->info().device, "v2");
}

TEST(WorkerBackend, CrashCostsOneRequestAndTheNextRunsOnAFreshWorker) {
  ScratchDir dir;
  const auto p = sample_problem();
  const Tensor expected = make_backend("host")->run(p);
  Logged log;
  auto b = make_worker_backend(log.settings(faulty_once(dir, "echo 'Memory access fault by GPU' >&2; kill -9 $$")));
  const std::string message = infra_error_of(*b, p, "combo-1");
  EXPECT_THAT(message, HasSubstr("exited (killed by signal 9 (Killed)) while running 'combo-1'"));
  EXPECT_THAT(message, HasSubstr("Memory access fault by GPU"));
  EXPECT_TRUE(b->run_combination(p, "combo-2").same_bytes(expected));
  ASSERT_EQ(log.lines.size(), 2u);
  EXPECT_THAT(log.lines[1], HasSubstr("restarted"));
  EXPECT_THAT(log.lines[1], HasSubstr("start 2"));
}

TEST(WorkerBackend, HangPastTheTimeoutCostsOneRequestAndTheGroupIsKilled) {
  ScratchDir dir;
  const auto p = sample_problem();
  const Tensor expected = make_backend("host")->run(p);
  Logged log;
  auto b = make_worker_backend(log.settings(faulty_once(dir, "echo stuck >&2; sleep 60 & wait"), 2.0));
  const auto start = std::chrono::steady_clock::now();
  const std::string message = infra_error_of(*b, p, "combo-1");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  EXPECT_THAT(message, HasSubstr("did not answer 'combo-1' within --timeout 2 s"));
  EXPECT_THAT(message, HasSubstr("stuck"));
  EXPECT_TRUE(b->run_combination(p, "combo-2").same_bytes(expected));
}

TEST(WorkerBackend, GarbageOnStdoutCostsOneRequest) {
  ScratchDir dir;
  const auto p = sample_problem();
  Logged log;
  auto b = make_worker_backend(log.settings(faulty_once(dir, "echo 'Loading AITER kernels...'; sleep 30")));
  const std::string message = infra_error_of(*b, p, "combo-1");
  EXPECT_THAT(message, HasSubstr("answered garbage while running 'combo-1'"));
  EXPECT_THAT(message, HasSubstr("Loading AITER kernels"));
  EXPECT_NO_THROW(b->run_combination(p, "combo-2"));
}

TEST(WorkerBackend, AnswerForAnotherIdIsGarbage) {
  ScratchDir dir;
  const auto p = sample_problem();
  Logged log;
  auto b = make_worker_backend(
      log.settings(faulty_once(dir, R"(echo '{"type":"result","id":"other","status":"ok"}'; sleep 30)")));
  EXPECT_THAT(infra_error_of(*b, p, "combo-1"), HasSubstr("the result is for id 'other'"));
  EXPECT_NO_THROW(b->run_combination(p, "combo-2"));
}

TEST(WorkerBackend, PlainErrorAnswerKeepsTheWorker) {
  const auto p = sample_problem();
  const Tensor expected = make_backend("host")->run(p);
  // Refuses the first request; the second it hands to a one-shot mxguard worker and relays only
  // that worker's answer (its last line), so the same shell process answers both requests.
  const std::string script =
      "echo " + kHello +
      R"(; read -r l; echo '{"type":"result","id":"c1","status":"error","message":"no kernel for T=5"}'; )"
      R"(read -r l; printf '%s\n' "$l" | )" +
      proc::shell_quote(MXG_TEST_MXGUARD) + " kernel worker --backend host --threads 1 | tail -n 1";
  Logged log;
  auto b = make_worker_backend(log.settings(script));
  EXPECT_THAT(infra_error_of(*b, p, "c1"), HasSubstr("worker failed on 'c1': no kernel for T=5"));
  EXPECT_TRUE(b->run_combination(p, "c2").same_bytes(expected));
  EXPECT_EQ(log.lines.size(), 1u);  // no restart in between
}

TEST(WorkerBackend, FatalErrorAnswerRestartsTheWorkerForTheNextRequest) {
  ScratchDir dir;
  const auto p = sample_problem();
  const Tensor expected = make_backend("host")->run(p);
  Logged log;
  auto b = make_worker_backend(log.settings(faulty_once(
      dir, R"(echo '{"type":"result","id":"combo-1","status":"error","message":"HIP illegal address","fatal":true}'; exit 3)")));
  const std::string message = infra_error_of(*b, p, "combo-1");
  EXPECT_THAT(message, HasSubstr("HIP illegal address"));
  EXPECT_THAT(message, HasSubstr("stopped"));
  EXPECT_TRUE(b->run_combination(p, "combo-2").same_bytes(expected));
  EXPECT_EQ(log.lines.size(), 2u);
}

TEST(WorkerBackend, DeviceIsGivenThroughTheVisibilityVariables) {
  Logged log;
  auto settings = log.settings(
      R"(echo "{\"type\":\"hello\",\"protocol\":\"mxguard-worker/2\",\"kernel\":\"k\",\"device\":\"hip=$HIP_VISIBLE_DEVICES cuda=$CUDA_VISIBLE_DEVICES mxg=$MXGUARD_DEVICE\"}"; read -r l)");
  settings.device = 3;
  ::unsetenv("HIP_VISIBLE_DEVICES");
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  auto b = make_worker_backend(settings);
  EXPECT_EQ(b->info().device, "hip=3 cuda=3 mxg=3 [device 3]");
}

TEST(WorkerBackend, DeviceIndexesTheListMxguardRunsUnder) {
  ::setenv("HIP_VISIBLE_DEVICES", "4,6", 1);
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  const auto env = device_environment(1);
  EXPECT_THAT(env, ::testing::Contains(std::pair<std::string, std::string>{"HIP_VISIBLE_DEVICES", "6"}));
  EXPECT_THAT(env, ::testing::Contains(std::pair<std::string, std::string>{"CUDA_VISIBLE_DEVICES", "6"}));
  EXPECT_THAT(env, ::testing::Contains(std::pair<std::string, std::string>{"MXGUARD_DEVICE", "1"}));
  try {
    device_environment(2);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("HIP_VISIBLE_DEVICES=4,6"));
  }
  ::unsetenv("HIP_VISIBLE_DEVICES");
}

}  // namespace
}  // namespace mxg::testing

namespace mxg::testing {
namespace {

proc::CommandResult mxguard_cli(const std::string& args, const ScratchDir& dir) {
  return proc::run_shell(proc::shell_quote(MXG_TEST_MXGUARD) + " " + args, dir.path(), 120);
}

TEST(KernelCliWorker, KernelRunThroughAPersistentWorkerGivesTheHostBytes) {
  ScratchDir dir;
  const auto p = sample_problem();
  write_problem(dir / "case.safetensors", p);
  const auto r = mxguard_cli("kernel run --backend external --in case.safetensors --out y.safetensors --kernel-worker " +
                                 proc::shell_quote(mxguard_worker()),
                             dir);
  ASSERT_TRUE(r.ok()) << r.status() << r.stderr_tail;
  EXPECT_TRUE(read_output(dir / "y.safetensors", 5, 96).same_bytes(make_backend("host")->run(p)));
  EXPECT_THAT(r.stderr_tail, HasSubstr("started"));  // the worker's start is logged with its kernel
}

TEST(KernelCliWorker, BothProtocolsAtOnceIsAnInputError) {
  ScratchDir dir;
  write_problem(dir / "case.safetensors", sample_problem());
  const auto r = mxguard_cli("kernel run --backend external --in case.safetensors --out y.safetensors "
                             "--kernel-cmd 'cp {in} {out}' --kernel-worker 'cat'",
                             dir);
  EXPECT_EQ(r.exit_code, 2) << r.stderr_tail;
  EXPECT_THAT(r.stderr_tail, HasSubstr("--kernel-worker"));
}

TEST(KernelCliWorker, WorkerOfABackendThatRunsOutsideMxguardIsRefused) {
  ScratchDir dir;
  const auto r = mxguard_cli("kernel worker --backend external </dev/null", dir);
  EXPECT_EQ(r.exit_code, 2) << r.stderr_tail;
  EXPECT_THAT(r.stderr_tail, HasSubstr("--backend external"));
  EXPECT_TRUE(r.stdout_tail.empty());  // no hello: nothing to serve
}

TEST(KernelCliWorker, UnreadableProblemIsAnsweredAndTheWorkerGoesOn) {
  ScratchDir dir;
  const auto p = sample_problem();
  write_problem(dir / "case.safetensors", p);
  const std::string requests =
      std::string(R"({"type":"run","id":"a","problem":"missing.safetensors","output":"ya.safetensors"})") + "\n" +
      "not json\n" + R"({"type":"run","id":"b","problem":"case.safetensors","output":"yb.safetensors"})" + "\n";
  const auto r = mxguard_cli("kernel worker --backend host --threads 1 <<'EOF'\n" + std::string(requests) + "EOF", dir);
  ASSERT_TRUE(r.ok()) << r.status() << r.stderr_tail;
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = r.stdout_tail.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(r.stdout_tail.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 4u) << r.stdout_tail;  // hello, then one answer per request line
  EXPECT_THAT(lines[0], HasSubstr(R"("type":"hello")"));
  EXPECT_THAT(lines[1], HasSubstr(R"("id":"a","status":"error")"));
  EXPECT_THAT(lines[1], HasSubstr("missing.safetensors"));
  EXPECT_THAT(lines[2], HasSubstr(R"("status":"error")"));
  EXPECT_EQ(lines[3], R"({"type":"result","id":"b","status":"ok"})");
  EXPECT_TRUE(read_output(dir / "yb.safetensors", 5, 96).same_bytes(make_backend("host")->run(p)));
}

}  // namespace
}  // namespace mxg::testing
