// The external backend end to end: the host adapter (ci/adapters/host_adapter.sh, which runs
// `mxguard kernel run --backend host`) must give the host backend's exact bytes; failing,
// hanging and lying commands are InfraErrors showing the status and the command's stderr tail.
#include <chrono>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/external_backend.hpp"
#include "kernels/backend/fused_moe.hpp"
#include "kernels/backend/subprocess.hpp"
#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

FusedMoeProblem sample_problem() {
  const MoeShape s{4, 96, 128, 64, 64, 2, 5};
  return prepare_device(make_canonical(s, 17), consistent_prep(GateMode::Separated, true),
                        correct_flags(s, GateMode::Separated, true));
}

Tensor run_external(const std::string& command, double timeout = 60) {
  BackendOptions options;
  options.kernel_cmd = command;
  options.timeout_seconds = timeout;
  return make_backend("external", options)->run(sample_problem());
}

std::string infra_error(const std::string& command, double timeout = 60) {
  try {
    run_external(command, timeout);
  } catch (const InfraError& e) {
    return e.what();
  }
  return "(no InfraError)";
}

std::string host_adapter_command() {
  return "MXGUARD=" + proc::shell_quote(MXG_TEST_MXGUARD) + " " + proc::shell_quote(MXG_TEST_HOST_ADAPTER) +
         " {in} {out}";
}

TEST(ExternalBackend, HostAdapterReproducesTheHostBackendExactly) {
  const auto p = sample_problem();
  const Tensor expected = make_backend("host")->run(p);
  const Tensor y = run_external(host_adapter_command());
  EXPECT_EQ(y.dtype(), DType::BF16);
  EXPECT_EQ(y.shape(), (Shape{5, 96}));
  EXPECT_TRUE(y.same_bytes(expected));
}

TEST(ExternalBackend, InfoNamesTheCommand) {
  BackendOptions options;
  options.kernel_cmd = "python3 adapter.py {in} {out}";
  const auto info = make_backend("external", options)->info();
  EXPECT_EQ(info.backend, "external");
  EXPECT_EQ(info.device, "python3 adapter.py {in} {out}");
}

TEST(ExternalBackend, FailingCommandShowsExitStatusAndStderrTail) {
  const std::string message =
      infra_error(": {in} {out}; i=1; while [ $i -le 30 ]; do echo trace$i >&2; i=$((i+1)); done; echo 'RuntimeError: no GPU' >&2; exit 1");
  EXPECT_THAT(message, HasSubstr("exit status 1"));
  EXPECT_THAT(message, HasSubstr("RuntimeError: no GPU"));
  EXPECT_THAT(message, HasSubstr("trace30"));
  EXPECT_THAT(message, HasSubstr("trace12"));
  EXPECT_THAT(message, Not(HasSubstr("trace11\n")));  // only the last 20 lines
}

TEST(ExternalBackend, TimeoutIsAnInfraError) {
  const auto start = std::chrono::steady_clock::now();
  const std::string message = infra_error("echo compiling >&2; sleep 60; cp {in} {out}", 1.0);
  EXPECT_THAT(message, HasSubstr("timed out"));
  EXPECT_THAT(message, HasSubstr("compiling"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

TEST(ExternalBackend, MalformedMissingOrWrongOutputIsAnInfraError) {
  EXPECT_THAT(infra_error("echo garbage > {out}; : {in}"), HasSubstr("malformed"));
  EXPECT_THAT(infra_error("echo 'I did nothing' >&2; : {in} {out}"), HasSubstr("wrote no"));
  EXPECT_THAT(infra_error("echo 'I did nothing' >&2; : {in} {out}"), HasSubstr("I did nothing"));
  // A file without tensor y (the input copied back).
  EXPECT_THAT(infra_error("cp {in} {out}"), HasSubstr("'y'"));
}

TEST(ExternalBackend, CommandRunsInTheCallersDirectoryWithQuotedPaths) {
  // The command runs where mxguard was started (so relative adapter paths resolve), and gets
  // absolute paths to an existing input; it checks both, then succeeds through the host adapter.
  const std::string here = std::filesystem::current_path().string();
  const Tensor y = run_external("test \"$(pwd -P)\" = \"$(cd '" + here + "' && pwd -P)\" && test -s {in} && " +
                                "case {in} in /*) true ;; *) false ;; esac && " + host_adapter_command());
  EXPECT_EQ(y.shape(), (Shape{5, 96}));
}

TEST(SubstituteCommand, ReplacesEveryPlaceholderWithAQuotedPath) {
  EXPECT_EQ(substitute_command("a {in} b {out} c {in}", "/tmp/x y", "/o'p"),
            "a '/tmp/x y' b '/o'\\''p' c '/tmp/x y'");
  EXPECT_EQ(substitute_command("{out}{in}", "i", "o"), "'o''i'");
  EXPECT_THROW(substitute_command("python3 run.py {in}", "i", "o"), InputError);
  EXPECT_THROW(substitute_command("python3 run.py", "i", "o"), InputError);
}

}  // namespace
}  // namespace mxg::testing
