// Tests of checkpoint reading: single files, sharded indexes (as a file and as a folder), several
// sources in order, missing tensors and shards, and config.json fields.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/common/errors.hpp"
#include "reference/checkpoint.hpp"
#include "reference/hf_config.hpp"
#include "reference/tests/layer_fixture.hpp"
#include "reference/tests/temp_dir.hpp"

namespace mxg::ref::testing {
namespace {

MoeConfig tiny() {
  MoeConfig c;
  c.hidden = 32;
  c.intermediate = 32;
  c.experts = 3;
  c.topk = 2;
  return c;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

void write_text(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

// Shards layer `layer` of `layer_data` over two files in dir/shards, with an index in dir.
void write_sharded(const std::filesystem::path& dir, const RawLayer& layer_data, std::int64_t layer) {
  std::filesystem::create_directories(dir / "shards");
  const NamedTensors all = layer_data.checkpoint_tensors(layer);
  NamedTensors first(all.begin(), all.begin() + 3), second(all.begin() + 3, all.end());
  write_safetensors(dir / "shards" / "part-1.safetensors", first);
  write_safetensors(dir / "shards" / "part-2.safetensors", second);
  nlohmann::json index;
  index["metadata"] = {{"total_size", 0}};
  for (const auto& [name, t] : first) index["weight_map"][name] = "shards/part-1.safetensors";
  for (const auto& [name, t] : second) index["weight_map"][name] = "shards/part-2.safetensors";
  write_text(dir / "model.safetensors.index.json", index.dump());
}

TEST(Checkpoint, SingleFileLoadsTheLayerWithLabels) {
  TempDir dir;
  const RawLayer layer = random_layer(tiny(), 1);
  write_safetensors(dir / "model.safetensors", layer.checkpoint_tensors(7));
  const CheckpointSet set = CheckpointSet::open({dir / "model.safetensors"});
  const MoeWeights w = load_layer_weights(set, 7, true);
  EXPECT_TRUE(w.w13_blocks.same_bytes(layer.tensors().w13_blocks));
  EXPECT_TRUE(w.router_bias.same_bytes(layer.tensors().router_bias));
  EXPECT_EQ(w.labels.w2_scales,
            (dir / "model.safetensors").string() + ": tensor 'model.layers.7.mlp.experts.down_proj_scales'");
  EXPECT_NO_THROW(validate_weights(tiny(), w, true));
}

TEST(Checkpoint, ShardedIndexAsFileAndAsFolder) {
  TempDir dir;
  const RawLayer layer = random_layer(tiny(), 2);
  write_sharded(dir.path(), layer, 0);
  for (const auto& source : {dir / "model.safetensors.index.json", dir.path()}) {
    const CheckpointSet set = CheckpointSet::open({source});
    const MoeWeights w = load_layer_weights(set, 0, true);
    EXPECT_TRUE(w.w13_bias.same_bytes(layer.tensors().w13_bias)) << source;
    EXPECT_TRUE(w.w2_blocks.same_bytes(layer.tensors().w2_blocks)) << source;
    EXPECT_NE(w.labels.w2_blocks.find("part-2.safetensors"), std::string::npos);
    EXPECT_NE(w.labels.w13_blocks.find("part-1.safetensors"), std::string::npos);
    EXPECT_NE(set.describe_sources().find("(2 files)"), std::string::npos) << set.describe_sources();
  }
}

TEST(Checkpoint, SourcesAreSearchedInOrder) {
  TempDir dir;
  const RawLayer a = random_layer(tiny(), 3), b = random_layer(tiny(), 4);
  write_safetensors(dir / "a.safetensors", a.checkpoint_tensors(1));
  NamedTensors b_router_only;
  for (auto& [name, t] : b.checkpoint_tensors(1)) {
    if (name.find(".router.") != std::string::npos) b_router_only.emplace_back(name, t);
  }
  write_safetensors(dir / "b.safetensors", b_router_only);
  // b first: its router wins; the experts come from a.
  const MoeWeights w = load_layer_weights(CheckpointSet::open({dir / "b.safetensors", dir / "a.safetensors"}), 1, true);
  EXPECT_TRUE(w.router_weight.same_bytes(b.tensors().router_weight));
  EXPECT_TRUE(w.w13_scales.same_bytes(a.tensors().w13_scales));
}

TEST(Checkpoint, MissingTensorNamesItTheSourcesAndWhatIsThere) {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", random_layer(tiny(), 5).checkpoint_tensors(2));
  const CheckpointSet set = CheckpointSet::open({dir / "model.safetensors"});
  const std::string message = error_of([&] { load_layer_weights(set, 3, true); });
  EXPECT_NE(message.find("tensor 'model.layers.3.mlp.experts.gate_up_proj_blocks' not found in"), std::string::npos)
      << message;
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("found: model.layers.2.mlp."), std::string::npos) << message;
}

TEST(Checkpoint, BadSourcesAreInputErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { CheckpointSet::open({dir / "absent.safetensors"}); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] { CheckpointSet::open({dir.path()}); }).find("neither"), std::string::npos);
  write_text(dir / "broken.index.json", "{\"weight_map\": [1, 2]}");
  EXPECT_NE(error_of([&] { CheckpointSet::open({dir / "broken.index.json"}); }).find("'weight_map'"),
            std::string::npos);
  write_text(dir / "dangling.index.json",
             "{\"weight_map\": {\"model.layers.0.mlp.experts.gate_up_proj_blocks\": \"gone.safetensors\"}}");
  const CheckpointSet dangling = CheckpointSet::open({dir / "dangling.index.json"});
  EXPECT_NE(error_of([&] { load_layer_weights(dangling, 0, false); }).find("gone.safetensors"), std::string::npos);
}

TEST(HfConfig, ReadsTheMoeFields) {
  TempDir dir;
  write_text(dir / "config.json",
             R"({"hidden_size": 2880, "intermediate_size": 2880, "num_local_experts": 128,
                 "num_experts_per_tok": 4, "swiglu_limit": 7.0, "vocab_size": 201088})");
  MoeConfig c;
  apply_fields(read_hf_config(dir / "config.json"), c);
  EXPECT_EQ(c.hidden, 2880);
  EXPECT_EQ(c.intermediate, 2880);
  EXPECT_EQ(c.experts, 128);
  EXPECT_EQ(c.topk, 4);
  EXPECT_EQ(c.swiglu_limit, 7.0);

  write_text(dir / "nested.json", R"({"text_config": {"hidden_size": 64, "swiglu_limit": 5}})");
  MoeConfig n;
  apply_fields(read_hf_config(dir / "nested.json"), n);
  EXPECT_EQ(n.hidden, 64);
  EXPECT_EQ(n.swiglu_limit, 5.0);
  EXPECT_EQ(n.experts, 0);  // absent fields stay as they were

  write_text(dir / "bad.json", R"({"hidden_size": "2880"})");
  EXPECT_NE(error_of([&] { read_hf_config(dir / "bad.json"); }).find("field 'hidden_size'"), std::string::npos);
  write_text(dir / "notjson.json", "{");
  EXPECT_NE(error_of([&] { read_hf_config(dir / "notjson.json"); }).find("not valid JSON"), std::string::npos);
}

TEST(InferSizes, FromTheScaleShapes) {
  const RawLayer layer = random_layer(tiny(), 6);
  MoeConfig c;
  infer_sizes(c, layer.tensors());
  EXPECT_EQ(c.hidden, 32);
  EXPECT_EQ(c.intermediate, 32);
  EXPECT_EQ(c.experts, 3);
  EXPECT_EQ(c.topk, 0);  // not in any shape
}

}  // namespace
}  // namespace mxg::ref::testing
