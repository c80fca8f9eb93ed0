// End-to-end tests of `mxguard diagnose output`: the built binary on a small synthetic checkpoint;
// exit codes 0 (healthy) / 1 (bug) / 2 (bad input), the text, the JSON and the progress on stderr.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/diagnose/output/tests/synthetic_layer.hpp"
#include "harness/matrix/tests/mxguard_process.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::diagnose {
namespace {

namespace fs = std::filesystem;
using matrix::testing::ProcessOutcome;
using matrix::testing::run_mxguard;

class DiagnoseOutputCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("mxg_diag_output_cli_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    layer_ = new testing::SyntheticLayer(testing::make_synthetic_layer(64, 64, 4, 2, 2, 99));
    testing::write_checkpoint(*layer_, 0, *dir_ / "ckpt.safetensors");
    write_safetensors(*dir_ / "hidden.safetensors", {{"hidden_states", layer_->hidden}});
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete layer_;
  }

  // The observed output of a combination, as a BF16 [T, H] file (what a serving process dumps).
  static std::string observed_file(const std::string& name, const matrix::Combination& combo) {
    const Tensor y = testing::observed_output(*layer_, combo, 1, std::nullopt);
    write_safetensors(*dir_ / name, {{"y", Tensor::from_f32(y.to_f32(), y.shape(), DType::BF16)}});
    return (*dir_ / name).string();
  }

  static ProcessOutcome diagnose(const std::string& observed, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"diagnose", "output", "--checkpoint", (*dir_ / "ckpt.safetensors").string(),
                                     "--layer", "0", "--hidden", (*dir_ / "hidden.safetensors").string(),
                                     "--observed", observed, "--num-experts-per-tok", "2", "--threads", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_mxguard(args, *dir_);
  }

  static fs::path* dir_;
  static testing::SyntheticLayer* layer_;
};
fs::path* DiagnoseOutputCli::dir_ = nullptr;
testing::SyntheticLayer* DiagnoseOutputCli::layer_ = nullptr;

TEST_F(DiagnoseOutputCli, IncidentOutputIsNamedAndExitsOne) {
  const auto r = diagnose(observed_file("incident.safetensors", testing::scenario_combination("gptoss-rocm-gsm8k-0.21")));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("\nBUG: gptoss-rocm-gsm8k-0.21"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prep=deinterleaved/wshuf=interleaved-tiles/sshuf=interleaved/flag=0/gate=separated/pad=correct"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("why it is wrong: "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("288 of 288 combinations run"), std::string::npos) << r.err;
}

TEST_F(DiagnoseOutputCli, HealthyOutputExitsZeroWithJson) {
  const matrix::Combination healthy{matrix::Prep::Deinterleaved, matrix::WeightShuffle::InterleavedTiles,
                                    matrix::ScaleShuffle::Interleaved, true, GateMode::Interleave,
                                    matrix::Padding::Correct};
  const auto r = diagnose(observed_file("healthy.safetensors", healthy), {"--json", "--only", "is_shuffled=true"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("schema"), "mxguard.diagnose-output/1");
  EXPECT_EQ(j.at("finding"), "HEALTHY");
  EXPECT_EQ(j.at("exit_code"), 0);
  EXPECT_EQ(j.at("combinations"), 144);
  const auto& best = j.at("explanations").at(0);
  EXPECT_EQ(best.at("consistency"), "consistent");
  bool found = false;
  for (const auto& m : best.at("members")) {
    EXPECT_TRUE(m.at("consistent").get<bool>());
    found = found || m.at("id") == "prep=deinterleaved/wshuf=interleaved-tiles/sshuf=interleaved/flag=1/gate=interleave/pad=correct";
  }
  EXPECT_TRUE(found) << best.dump(2);
  // The BF16 rounding of the dumped output is all that separates it from the candidate.
  EXPECT_LT(best.at("nmse").get<double>(), 1e-4);
}

TEST_F(DiagnoseOutputCli, BadInputExitsTwoWithOneLine) {
  write_safetensors(*dir_ / "short.safetensors", {{"y", Tensor(DType::F32, {1, 64})}});
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--observed-tensor", "logits"}, "--observed-tensor 'logits': no such tensor"},
      {{"--only", "prep=sideways"}, "sideways"},
      {{"--only", "prep"}, "expected DIMENSION=VALUE"},
      {{"--tp", "2", "--rank", "3"}, "--rank: 3 is outside [0, tp = 2)"},
  };
  const std::string observed = observed_file("any.safetensors", matrix::Combination{});
  for (const auto& [extra, expected] : cases) {
    const auto r = diagnose(observed, extra);
    EXPECT_EQ(r.exit_code, 2) << expected << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto t = diagnose((*dir_ / "short.safetensors").string());
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.err.find("short.safetensors: tensor 'y': shape [1, 64]: dimension 0 (tokens) is 1"), std::string::npos)
      << t.err;
}

TEST_F(DiagnoseOutputCli, HelpDocumentsExitCodes) {
  const auto r = run_mxguard({"diagnose", "output", "--help"}, *dir_);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes: 0 HEALTHY"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mxguard diagnose output --checkpoint"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mxg::diagnose
