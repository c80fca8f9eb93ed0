// `mxguard layout ggml-convert` end to end: the real binary writes what prepare_ggml_experts
// computes for the prep its flags spell, --inverse gives back the input bytes, and bad input
// exits 2 with one line naming the file and tensor.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/layout/ggml_experts_io.hpp"
#include "kernels/layout/tests/ggml_test_support.hpp"

#ifndef MXGUARD_EXE
#error "MXGUARD_EXE must name the mxguard binary"
#endif

namespace mxg::layout::ggml {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class LayoutGgmlCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mxg_layout_ggml_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    ck_ = testing::random_checkpoint(2, 64, 96, 31, DType::BF16, 0, 255);
    write_checkpoint_experts(path("layer.safetensors"), ck_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  CliRun mxguard(const std::vector<std::string>& args) const {
    std::string cmd = "'" MXGUARD_EXE "' layout ggml-convert";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " > '" + path("stdout") + "' 2> '" + path("stderr") + "'";
    const int status = std::system(cmd.c_str());
    CliRun r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "stdout");
    r.err = slurp(dir_ / "stderr");
    return r;
  }

  static bool same(const GgmlExperts& a, const GgmlExperts& b) {
    return a.gate.same_bytes(b.gate) && a.up.same_bytes(b.up) && a.down.same_bytes(b.down) &&
           a.gate_bias.same_bytes(b.gate_bias) && a.up_bias.same_bytes(b.up_bias) &&
           a.down_bias.same_bytes(b.down_bias) && a.gate_up.same_bytes(b.gate_up) &&
           a.gate_up_bias.same_bytes(b.gate_up_bias) && a.merged() == b.merged();
  }

  fs::path dir_;
  CheckpointExperts ck_;
};

TEST_F(LayoutGgmlCli, WritesTheConverterPipelineByDefaultAndSaysItIsConsistent) {
  const CliRun r = mxguard({"--in", path("layer.safetensors"), "--out", path("g.safetensors")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("consistent: ggml reads the checkpoint's values"), std::string::npos) << r.out;
  EXPECT_TRUE(same(load_ggml_experts(path("g.safetensors")), convert_checkpoint_experts(ck_)));
  EXPECT_EQ(SafetensorsFile::open(path("g.safetensors")).metadata().at("mxguard.ggml.prep"), ggml_prep_id(GgmlPrep{}));
}

TEST_F(LayoutGgmlCli, FlagsAndPrepIdsSpellTheBugVariantsAndInverseRestoresTheInput) {
  struct Case {
    std::vector<std::string> flags;
    const char* prep;
  };
  const Case cases[] = {
      {{"--split", "swapped"}, "split=swapped"},
      {{"--split", "halves", "--bias-split", "right"}, "split=halves/bias_split=right"},
      {{"--nibbles", "skipped", "--scale-byte", "doubled"}, "nibbles=skipped/scale_byte=doubled"},
      {{"--prep", "split=swapped/scale_byte=halved", "--scale-byte", "right"}, "split=swapped"},
      {{"--form", "merged"}, "form=merged"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"--in", path("layer.safetensors"), "--out", path("v.safetensors")};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const CliRun r = mxguard(args);
    ASSERT_EQ(r.rc, 0) << c.prep << ": " << r.err;
    const GgmlPrep p = parse_ggml_prep_id(c.prep);
    EXPECT_TRUE(same(load_ggml_experts(path("v.safetensors")), prepare_ggml_experts(ck_, p))) << c.prep;
    EXPECT_EQ(r.out.find("INCONSISTENT") != std::string::npos, p.form != GateUpForm::merged) << r.out;

    std::vector<std::string> back{"--inverse", "--in", path("v.safetensors"), "--out", path("back.safetensors")};
    back.insert(back.end(), c.flags.begin(), c.flags.end());
    const CliRun i = mxguard(back);
    ASSERT_EQ(i.rc, 0) << c.prep << ": " << i.err;
    const CheckpointExperts restored = read_checkpoint_experts(SafetensorsFile::open(path("back.safetensors")));
    EXPECT_TRUE(restored.gate_up_blocks.same_bytes(ck_.gate_up_blocks)) << c.prep;
    EXPECT_TRUE(restored.gate_up_scales.same_bytes(ck_.gate_up_scales)) << c.prep;
    EXPECT_TRUE(restored.down_blocks.same_bytes(ck_.down_blocks)) << c.prep;
    EXPECT_EQ(restored.gate_up_bias.to_f32(), ck_.gate_up_bias.to_f32()) << c.prep;  // BF16 in, F32 back
  }
}

TEST_F(LayoutGgmlCli, ReadsAHuggingFaceLayerByNumber) {
  write_safetensors(path("hf.safetensors"), {{"model.layers.5.mlp.experts.down_proj_bias", ck_.down_bias},
                                             {"model.layers.5.mlp.experts.down_proj_blocks", ck_.down_blocks},
                                             {"model.layers.5.mlp.experts.down_proj_scales", ck_.down_scales},
                                             {"model.layers.5.mlp.experts.gate_up_proj_bias", ck_.gate_up_bias},
                                             {"model.layers.5.mlp.experts.gate_up_proj_blocks", ck_.gate_up_blocks},
                                             {"model.layers.5.mlp.experts.gate_up_proj_scales", ck_.gate_up_scales}});
  const CliRun r = mxguard({"--in", path("hf.safetensors"), "--layer", "5", "--out", path("g.safetensors")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(same(load_ggml_experts(path("g.safetensors")), convert_checkpoint_experts(ck_)));
}

TEST_F(LayoutGgmlCli, BadInputExitsTwoWithOneLine) {
  CliRun r = mxguard({"--in", path("layer.safetensors"), "--out", path("x.safetensors"), "--split", "sideways"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--split: sideways not in {right,swapped,halves}"), std::string::npos) << r.err;

  r = mxguard({"--in", path("layer.safetensors"), "--out", path("x.safetensors"), "--prep", "split=sideways"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("split = 'sideways': expected right | swapped | halves"), std::string::npos) << r.err;

  r = mxguard({"--in", path("layer.safetensors"), "--layer", "2", "--out", path("x.safetensors")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no tensor 'model.layers.2.mlp.experts.gate_up_proj_blocks'"), std::string::npos) << r.err;

  CheckpointExperts bad = ck_;
  bad.down_scales = Tensor(DType::U8, {2, 64, 4});
  write_checkpoint_experts(path("bad.safetensors"), bad);
  r = mxguard({"--in", path("bad.safetensors"), "--out", path("x.safetensors")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find(path("bad.safetensors") + ": down_scales has shape [2, 64, 4], expected [2, 64, 3] ([E, H, I/32])"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(path("x.safetensors")));
}

}  // namespace
}  // namespace mxg::layout::ggml
