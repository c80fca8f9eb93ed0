// `mxguard kernel run` / `mxguard kernel list` as a user runs them: exit codes, output file,
// flag overrides of the problem file's metadata, one-line errors.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/subprocess.hpp"
#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/backend/tests/temp_path.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::testing {
namespace {

using ::testing::HasSubstr;

proc::CommandResult mxguard(const std::string& args, const ScratchDir& dir) {
  return proc::run_shell(proc::shell_quote(MXG_TEST_MXGUARD) + " " + args, dir.path(), 120);
}

FusedMoeProblem sample_problem() {
  const MoeShape s{4, 96, 128, 64, 64, 2, 6};
  return prepare_device(make_canonical(s, 19), consistent_prep(GateMode::Separated, true),
                        correct_flags(s, GateMode::Separated, true));
}

Tensor read_y(const std::filesystem::path& path) { return read_output(path, 6, 96); }

TEST(KernelRunCli, WritesTheHostBackendsOutput) {
  ScratchDir dir;
  const auto p = sample_problem();
  write_problem(dir / "case.safetensors", p);
  const auto r = mxguard("kernel run --backend host --in case.safetensors --out y.safetensors --threads 1", dir);
  ASSERT_TRUE(r.ok()) << r.status() << r.stderr_tail;
  EXPECT_THAT(r.stdout_tail, HasSubstr("gate_mode=separated is_shuffled=true"));
  EXPECT_TRUE(read_y(dir / "y.safetensors").same_bytes(make_backend("host")->run(p)));
  const auto meta = SafetensorsFile::open(dir / "y.safetensors").metadata();
  EXPECT_EQ(meta.at("backend"), "host");
  EXPECT_EQ(meta.at("is_shuffled"), "true");
}

TEST(KernelRunCli, FlagsOverrideTheFilesContractFields) {
  ScratchDir dir;
  auto p = sample_problem();
  write_problem(dir / "case.safetensors", p);
  const auto r = mxguard(
      "kernel run --in case.safetensors --out y.safetensors --is-shuffled false --gate-mode interleave "
      "--intermediate-pad 32",
      dir);
  ASSERT_TRUE(r.ok()) << r.status() << r.stderr_tail;
  p.is_shuffled = false;
  p.gate_mode = GateMode::Interleave;
  p.intermediate_pad = 32;
  const Tensor expected = make_backend("host")->run(p);
  EXPECT_TRUE(read_y(dir / "y.safetensors").same_bytes(expected));
  EXPECT_THAT(SafetensorsFile::open(dir / "y.safetensors").metadata().at("gate_mode"), "interleave");
}

TEST(KernelRunCli, ExternalBackendThroughTheHostAdapter) {
  ScratchDir dir;
  const auto p = sample_problem();
  write_problem(dir / "case.safetensors", p);
  const std::string cmd = "MXGUARD=" + proc::shell_quote(MXG_TEST_MXGUARD) + " " +
                          proc::shell_quote(MXG_TEST_HOST_ADAPTER) + " {in} {out}";
  const auto r = mxguard("kernel run --backend external --in case.safetensors --out y.safetensors --kernel-cmd " +
                             proc::shell_quote(cmd),
                         dir);
  ASSERT_TRUE(r.ok()) << r.status() << r.stderr_tail;
  EXPECT_TRUE(read_y(dir / "y.safetensors").same_bytes(make_backend("host")->run(p)));
}

TEST(KernelRunCli, BadInputExitsTwoWithOneLine) {
  ScratchDir dir;
  write_problem(dir / "case.safetensors", sample_problem());
  const auto missing = mxguard("kernel run --in nowhere.safetensors --out y.safetensors", dir);
  EXPECT_EQ(missing.exit_code, 2);
  const auto bad_mode = mxguard("kernel run --in case.safetensors --out y.safetensors --gate-mode gugu", dir);
  EXPECT_EQ(bad_mode.exit_code, 2);
  const auto bad_pad = mxguard("kernel run --in case.safetensors --out y.safetensors --hidden-pad 500", dir);
  EXPECT_EQ(bad_pad.exit_code, 2);
  EXPECT_THAT(bad_pad.stderr_tail, HasSubstr("hidden_pad: is 500"));
  EXPECT_EQ(std::count(bad_pad.stderr_tail.begin(), bad_pad.stderr_tail.end(), '\n'), 1);
  const auto unknown = mxguard("kernel run --backend rocm --in case.safetensors --out y.safetensors", dir);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.stderr_tail, HasSubstr("unknown backend 'rocm'"));
  std::ofstream(dir / "junk.safetensors") << "not a safetensors file";
  const auto junk = mxguard("kernel run --in junk.safetensors --out y.safetensors", dir);
  EXPECT_EQ(junk.exit_code, 2);
  EXPECT_THAT(junk.stderr_tail, HasSubstr("junk.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "y.safetensors"));
}

TEST(KernelRunCli, FailingExternalCommandExitsThree) {
  ScratchDir dir;
  write_problem(dir / "case.safetensors", sample_problem());
  const auto r = mxguard(
      "kernel run --backend external --in case.safetensors --out y.safetensors --kernel-cmd "
      "'echo HIP error: no device >&2; exit 1; {in} {out}'",
      dir);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.stderr_tail, HasSubstr("infrastructure error"));
  EXPECT_THAT(r.stderr_tail, HasSubstr("HIP error: no device"));
}

TEST(KernelListCli, ListsTheBuiltinBackends) {
  ScratchDir dir;
  const auto r = mxguard("kernel list", dir);
  ASSERT_TRUE(r.ok()) << r.stderr_tail;
  EXPECT_THAT(r.stdout_tail, HasSubstr("host "));
  EXPECT_THAT(r.stdout_tail, HasSubstr("external "));
  EXPECT_THAT(r.stdout_tail, HasSubstr("cpu ("));
}

}  // namespace
}  // namespace mxg::testing
