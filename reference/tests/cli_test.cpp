// Tests of `mxguard reference` and `mxguard compare` as a user runs them: the real binary on small
// generated checkpoint files (single file, sharded index, folder), checked against the oracle.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/tensor/safetensors.hpp"
#include "reference/tests/layer_fixture.hpp"
#include "reference/tests/scalar_oracle.hpp"
#include "reference/tests/temp_dir.hpp"

namespace mxg::ref::testing {
namespace {

struct CliRun {
  int exit_code;
  std::string output;  // stdout and stderr
};

CliRun mxguard(const std::string& args) {
  const std::string command = std::string(MXGUARD_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

MoeConfig config() {
  MoeConfig c;
  c.hidden = 64;
  c.intermediate = 32;
  c.experts = 5;
  c.topk = 2;
  return c;
}

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

class ReferenceCli : public ::testing::Test {
 protected:
  void SetUp() override {
    layer_ = random_layer(config(), 123);
    x_ = random_hidden(kTokens, config().hidden, 124);
    write_safetensors(dir_ / "hidden.safetensors", {{"hidden_states", bf16_tensor(x_, {kTokens, 64})}});
    write_safetensors(dir_ / "model.safetensors", layer_.checkpoint_tensors(kLayer));
    std::ofstream(dir_ / "config.json") << R"({"hidden_size": 64, "intermediate_size": 32,
        "num_local_experts": 5, "num_experts_per_tok": 2, "swiglu_limit": 7.0})";
  }
  static constexpr std::int64_t kTokens = 6, kLayer = 4;
  TempDir dir_;
  RawLayer layer_;
  std::vector<double> x_;
};

TEST_F(ReferenceCli, SingleFileF64MatchesTheOracle) {
  const CliRun r = mxguard("reference --checkpoint " + q(dir_ / "model.safetensors") + " --layer 4 --hidden " +
                        q(dir_ / "hidden.safetensors") + " --out " + q(dir_ / "ref.safetensors") +
                        " --precision f64 --threads 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("H=64 I=32 E=5 k=2"), std::string::npos) << r.output;  // from the config.json beside it
  const SafetensorsFile out = SafetensorsFile::open(dir_ / "ref.safetensors");
  EXPECT_EQ(out.get("y").dtype(), DType::F64);
  EXPECT_EQ(out.get("topk_ids").shape(), (Shape{kTokens, 2}));
  const OracleRouting routing = oracle_route(layer_, x_, kTokens);
  EXPECT_EQ(tensor_values(out.get("topk_ids")), std::vector<double>(routing.ids.begin(), routing.ids.end()));
  EXPECT_LE(relative_error(tensor_values(out.get("y")), oracle_moe(layer_, x_, kTokens, routing)), 1e-10);
}

TEST_F(ReferenceCli, ShardedIndexFolderAndTopkFromGiveTheSameAnswer) {
  // Two shards in a sub-folder and an index naming them relative to its own folder.
  const auto shard_dir = dir_ / "sharded";
  std::filesystem::create_directories(shard_dir / "parts");
  const NamedTensors all = layer_.checkpoint_tensors(kLayer);
  write_safetensors(shard_dir / "parts" / "a.safetensors", NamedTensors(all.begin(), all.begin() + 4));
  write_safetensors(shard_dir / "parts" / "b.safetensors", NamedTensors(all.begin() + 4, all.end()));
  nlohmann::json index;
  for (std::size_t i = 0; i < all.size(); ++i) index["weight_map"][all[i].first] = i < 4 ? "parts/a.safetensors" : "parts/b.safetensors";
  std::ofstream(shard_dir / "model.safetensors.index.json") << index.dump();

  const std::string common = " --layer 4 --hidden " + q(dir_ / "hidden.safetensors") +
                             " --hidden-size 64 --intermediate-size 32 --num-local-experts 5 --num-experts-per-tok 2";
  ASSERT_EQ(mxguard("reference --checkpoint " + q(dir_ / "model.safetensors") + common + " --out " +
                    q(dir_ / "single.safetensors")).exit_code, 0);
  const CliRun folder = mxguard("reference --checkpoint " + q(shard_dir) + common + " --out " + q(dir_ / "folder.safetensors"));
  ASSERT_EQ(folder.exit_code, 0) << folder.output;
  const CliRun index_run = mxguard("reference --checkpoint " + q(shard_dir / "model.safetensors.index.json") + common +
                                " --out " + q(dir_ / "index.safetensors"));
  ASSERT_EQ(index_run.exit_code, 0) << index_run.output;
  const Tensor single = SafetensorsFile::open(dir_ / "single.safetensors").get("y");
  EXPECT_EQ(single.dtype(), DType::F32);
  EXPECT_TRUE(single.same_bytes(SafetensorsFile::open(dir_ / "folder.safetensors").get("y")));
  EXPECT_TRUE(single.same_bytes(SafetensorsFile::open(dir_ / "index.safetensors").get("y")));

  // Feeding the routing back in reproduces y exactly (the router tensors are then not read).
  const CliRun topk = mxguard("reference --checkpoint " + q(dir_ / "model.safetensors") + common + " --topk-from " +
                           q(dir_ / "single.safetensors") + " --out " + q(dir_ / "topk.safetensors"));
  ASSERT_EQ(topk.exit_code, 0) << topk.output;
  EXPECT_TRUE(single.same_bytes(SafetensorsFile::open(dir_ / "topk.safetensors").get("y")));
}

TEST_F(ReferenceCli, InputErrorsExitTwoWithOneClearLine) {
  const std::string base = "reference --checkpoint " + q(dir_ / "model.safetensors") + " --hidden " +
                           q(dir_ / "hidden.safetensors") + " --out " + q(dir_ / "out.safetensors");
  CliRun r = mxguard(base + " --layer 9");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("tensor 'model.layers.9.mlp.experts.gate_up_proj_blocks' not found"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("found: model.layers.4.mlp."), std::string::npos) << r.output;

  r = mxguard(base + " --layer 4 --intermediate-size 64");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("gate_up_proj_blocks': shape [5, 64, 2, 16]: dimension 1 is 64, expected "
                          "2*intermediate_size = 128"),
            std::string::npos)
      << r.output;

  write_safetensors(dir_ / "empty.safetensors", {{"hidden_states", Tensor(DType::F32, {0, 64})}});
  r = mxguard("reference --checkpoint " + q(dir_ / "model.safetensors") + " --layer 4 --hidden " +
              q(dir_ / "empty.safetensors") + " --out " + q(dir_ / "out.safetensors"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("dimension 0 (tokens) is 0"), std::string::npos) << r.output;

  Tensor ids(DType::I32, {kTokens, 2});
  ids.as_mut<std::int32_t>()[5] = 7;
  write_safetensors(dir_ / "topk.safetensors",
                    {{"topk_ids", ids}, {"topk_weights", f32_tensor(std::vector<double>(12, 0.5), {kTokens, 2})}});
  r = mxguard(base + " --layer 4 --topk-from " + q(dir_ / "topk.safetensors"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("element [2, 1] is expert 7, outside [0, 5)"), std::string::npos) << r.output;

  r = mxguard(base + " --layer 4 --hidden-tensor nope");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no tensor 'nope'"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.safetensors"));
}

TEST_F(ReferenceCli, CompareReportsMetricsTextAndJson) {
  const std::string common = " --checkpoint " + q(dir_ / "model.safetensors") + " --layer 4 --hidden " +
                             q(dir_ / "hidden.safetensors");
  ASSERT_EQ(mxguard("reference" + common + " --out " + q(dir_ / "f32.safetensors")).exit_code, 0);
  ASSERT_EQ(mxguard("reference" + common + " --precision f64 --out " + q(dir_ / "f64.safetensors")).exit_code, 0);

  // Identical files: NMSE 0, cosine 1.
  CliRun same = mxguard("compare " + q(dir_ / "f32.safetensors") + " " + q(dir_ / "f32.safetensors") + " --json");
  ASSERT_EQ(same.exit_code, 0) << same.output;
  nlohmann::json j = nlohmann::json::parse(same.output);
  EXPECT_EQ(j["nmse"].get<double>(), 0.0);
  EXPECT_EQ(j["cosine"].get<double>(), 1.0);
  EXPECT_FALSE(j["any_nonfinite"].get<bool>());

  // A corrupted copy: one NaN and one changed value, both in token 1.
  const SafetensorsFile f32 = SafetensorsFile::open(dir_ / "f32.safetensors");
  std::vector<double> y = tensor_values(f32.get("y"));
  const std::vector<double> r = y;
  y[64 + 3] = std::nan("");
  y[64 + 40] += 1.0;
  write_safetensors(dir_ / "bad.safetensors", {{"y_kernel", f32_tensor(y, {kTokens, 64})}});
  const CliRun bad = mxguard("compare " + q(dir_ / "bad.safetensors") + " " + q(dir_ / "f32.safetensors") +
                          " --tensor y_kernel --tensor-b y --json --top 3");
  ASSERT_EQ(bad.exit_code, 0) << bad.output;
  j = nlohmann::json::parse(bad.output);
  EXPECT_EQ(j["nonfinite"]["a"]["nan"].get<int>(), 1);
  EXPECT_TRUE(j["any_nonfinite"].get<bool>());
  double ref_sq = 0;
  for (std::size_t i = 0; i < r.size(); ++i) ref_sq += i == 64 + 3 ? 0.0 : r[i] * r[i];
  EXPECT_NEAR(j["nmse"].get<double>(), 1.0 / ref_sq, 1e-6 / ref_sq);
  EXPECT_EQ(j["max_abs_at"]["index"].get<std::string>(), "[1, 40]");
  // The routing comes from the reference file: the NaN tile (rows 0..15) of token 1's experts leads.
  const std::int64_t expert = static_cast<std::int64_t>(tensor_values(f32.get("topk_ids"))[2]);
  ASSERT_FALSE(j["tiles"].empty());
  EXPECT_EQ(j["tiles"][0]["tile"].get<int>(), 0);
  EXPECT_EQ(j["tiles"][0]["nonfinite"].get<int>(), 1);
  EXPECT_TRUE(j["tiles"][0]["expert"].get<std::int64_t>() == expert ||
              j["tiles"][1]["expert"].get<std::int64_t>() == expert);

  const CliRun text = mxguard("compare " + q(dir_ / "f32.safetensors") + " " + q(dir_ / "f64.safetensors"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("nmse"), std::string::npos);
  EXPECT_NE(text.output.find("error by expert / tile"), std::string::npos) << text.output;

  write_safetensors(dir_ / "short.safetensors", {{"y", f32_tensor(std::vector<double>(64, 0.0), {1, 64})}});
  const CliRun mismatch = mxguard("compare " + q(dir_ / "short.safetensors") + " " + q(dir_ / "f32.safetensors"));
  EXPECT_EQ(mismatch.exit_code, 2);
  EXPECT_NE(mismatch.output.find("shape [1, 64] differs from"), std::string::npos) << mismatch.output;
}

}  // namespace
}  // namespace mxg::ref::testing
