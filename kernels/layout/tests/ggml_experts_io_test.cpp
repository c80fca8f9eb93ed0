// Safetensors files of both sides of the ggml conversion: round trips, the Hugging Face names,
// and the one-line errors of load_ggml_experts.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/ggml_experts_io.hpp"
#include "kernels/layout/tests/ggml_test_support.hpp"

namespace mxg::layout::ggml {
namespace {

namespace fs = std::filesystem;

class GgmlExpertsIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mxg_ggml_io_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string load_error(const fs::path& p) {
  try {
    load_ggml_experts(p);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(GgmlExpertsIo, SeparateAndMergedFormsRoundTripUnderTheirNames) {
  const CheckpointExperts ck = testing::random_checkpoint(2, 64, 96, 9);
  for (GateUpForm form : {GateUpForm::separate, GateUpForm::merged}) {
    GgmlPrep p;
    p.form = form;
    const GgmlExperts g = prepare_ggml_experts(ck, p);
    const fs::path file = dir_ / "experts.safetensors";
    save_ggml_experts(file, g, {{"mxguard.ggml.prep", ggml_prep_id(p)}});
    const SafetensorsFile raw = SafetensorsFile::open(file);
    if (form == GateUpForm::merged) {
      EXPECT_EQ(raw.names().size(), 4u);
      EXPECT_TRUE(raw.contains("gate_up") && raw.contains("gate_up_bias") && raw.contains("down") &&
                  raw.contains("down_bias"));
    } else {
      EXPECT_EQ(raw.names().size(), 6u);
      for (const char* n : {"gate", "up", "down", "gate_bias", "up_bias", "down_bias"}) EXPECT_TRUE(raw.contains(n)) << n;
    }
    EXPECT_EQ(raw.metadata().at("mxguard.ggml.prep"), ggml_prep_id(p));
    const GgmlExperts back = load_ggml_experts(file);
    EXPECT_EQ(back.merged(), form == GateUpForm::merged);
    EXPECT_TRUE(back.down.same_bytes(g.down));
    EXPECT_TRUE(back.down_bias.same_bytes(g.down_bias));
    EXPECT_TRUE(back.gate.same_bytes(g.gate) && back.up.same_bytes(g.up));
    EXPECT_TRUE(back.gate_up.same_bytes(g.gate_up) && back.gate_up_bias.same_bytes(g.gate_up_bias));
    EXPECT_EQ(back.down.shape(), g.down.shape());
  }
}

TEST_F(GgmlExpertsIo, CheckpointFilesReadByCanonicalOrHuggingFaceNames) {
  const CheckpointExperts ck = testing::random_checkpoint(2, 32, 64, 4, DType::BF16);
  const fs::path canonical = dir_ / "layer.safetensors";
  write_checkpoint_experts(canonical, ck);
  const CheckpointExperts a = read_checkpoint_experts(SafetensorsFile::open(canonical));
  EXPECT_TRUE(a.gate_up_blocks.same_bytes(ck.gate_up_blocks));
  EXPECT_TRUE(a.down_bias.same_bytes(ck.down_bias));
  EXPECT_EQ(a.down_bias.dtype(), DType::BF16);

  const fs::path hf = dir_ / "model.safetensors";
  write_safetensors(hf, {{"model.layers.7.mlp.experts.gate_up_proj_blocks", ck.gate_up_blocks},
                         {"model.layers.7.mlp.experts.gate_up_proj_scales", ck.gate_up_scales},
                         {"model.layers.7.mlp.experts.gate_up_proj_bias", ck.gate_up_bias},
                         {"model.layers.7.mlp.experts.down_proj_blocks", ck.down_blocks},
                         {"model.layers.7.mlp.experts.down_proj_scales", ck.down_scales},
                         {"model.layers.7.mlp.experts.down_proj_bias", ck.down_bias}});
  const CheckpointExperts b = read_checkpoint_experts(SafetensorsFile::open(hf), 7);
  EXPECT_TRUE(b.gate_up_scales.same_bytes(ck.gate_up_scales));
  EXPECT_TRUE(b.down_blocks.same_bytes(ck.down_blocks));
  EXPECT_THROW(read_checkpoint_experts(SafetensorsFile::open(hf), 6), InputError);  // no layer 6
  EXPECT_THROW(read_checkpoint_experts(SafetensorsFile::open(hf)), InputError);     // no canonical names
}

TEST_F(GgmlExpertsIo, LoadNamesTheFileAndTensorOfEachProblem) {
  const GgmlExperts g = convert_checkpoint_experts(testing::random_checkpoint(2, 64, 32, 5));
  const fs::path f = dir_ / "x.safetensors";
  const std::string file = f.string();

  write_safetensors(f, {{"gate", g.gate}, {"up", g.up}, {"down", g.down}, {"gate_bias", g.gate_bias},
                        {"up_bias", g.up_bias}, {"down_bias", g.down_bias}, {"router", g.down_bias}});
  EXPECT_EQ(load_error(f), file + ": unknown tensor 'router' (a ggml experts file holds gate, up, down, gate_bias, "
                                 "up_bias, down_bias, or gate_up and gate_up_bias instead of gate and up)");

  write_safetensors(f, {{"gate", g.gate}, {"down", g.down}, {"gate_bias", g.gate_bias}, {"up_bias", g.up_bias},
                        {"down_bias", g.down_bias}});
  EXPECT_EQ(load_error(f), file + ": up is missing");

  write_safetensors(f, {{"gate", g.gate}, {"up", g.down}, {"down", g.down}, {"gate_bias", g.gate_bias},
                        {"up_bias", g.up_bias}, {"down_bias", g.down_bias}});
  EXPECT_EQ(load_error(f), file + ": up has shape [2, 64, 17], but down [2, 64, 17] gives E = 2, H = 64, I = 32: "
                                  "expected [E, I, H/32 * 17]");

  write_safetensors(f, {{"gate", g.gate}, {"up", g.up}, {"down", Tensor(DType::U8, {2, 64, 20})},
                        {"gate_bias", g.gate_bias}, {"up_bias", g.up_bias}, {"down_bias", g.down_bias}});
  EXPECT_EQ(load_error(f), file + ": down has shape [2, 64, 20], expected [E, H, I/32 * 17] (whole 17-byte blocks)");

  write_safetensors(f, {{"gate", g.gate}, {"up", g.up}, {"down", g.down}, {"gate_bias", g.gate_bias},
                        {"up_bias", g.up_bias}, {"down_bias", Tensor::from_f32(g.down_bias.to_f32(), {2, 64}, DType::BF16)}});
  EXPECT_EQ(load_error(f), file + ": down_bias has dtype BF16, expected F32");

  write_safetensors(f, {{"gate", g.gate}, {"up", g.up}, {"down", g.down}, {"gate_bias", g.gate_bias},
                        {"up_bias", g.up_bias}, {"down_bias", g.down_bias}, {"gate_up", g.gate}});
  EXPECT_EQ(load_error(f), file + ": gate must be absent (gate_up holds it)");

  EXPECT_THROW(load_ggml_experts(dir_ / "missing.safetensors"), InputError);
}

}  // namespace
}  // namespace mxg::layout::ggml
