// Loading the observed layer from files: the routing (router or given), the compaction to routed
// experts, and clear errors for malformed inputs, each naming the file and the field at fault.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <unistd.h>

#include "harness/diagnose/output/observed_layer.hpp"
#include "harness/diagnose/output/tests/synthetic_layer.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/npy.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::diagnose {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kH = 64, kI = 64, kE = 6, kK = 2, kT = 3, kLayer = 2;

class ObservedLayerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mxg_diag_output_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    layer_ = testing::make_synthetic_layer(kH, kI, kE, kK, kT, 11);
    ckpt_ = dir_ / "layer.safetensors";
    testing::write_checkpoint(layer_, kLayer, ckpt_);
    hidden_ = dir_ / "hidden.safetensors";
    write_safetensors(hidden_, {{"hidden_states", layer_.hidden}});
    observed_ = dir_ / "observed.safetensors";
    write_safetensors(observed_, {{"y", Tensor(DType::BF16, {kT, kH})}});
  }
  void TearDown() override { fs::remove_all(dir_); }

  LayerRequest request() const {
    LayerRequest r;
    r.checkpoint = {ckpt_};
    r.layer = kLayer;
    r.hidden = {hidden_, std::nullopt};
    r.observed = {observed_, std::nullopt};
    r.topk = kK;
    return r;
  }
  fs::path write(const std::string& name, const NamedTensors& tensors) const {
    write_safetensors(dir_ / name, tensors);
    return dir_ / name;
  }
  // The InputError's message; a failure when none is thrown.
  static std::string error_of(const LayerRequest& r) {
    try {
      load_observed_layer(r);
    } catch (const InputError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no InputError";
    return {};
  }

  fs::path dir_, ckpt_, hidden_, observed_;
  testing::SyntheticLayer layer_;
};

// Expert ids back through the compaction give the routing; weights are kept.
void expect_routing(const LayerSetup& s, const ref::Routing& routing) {
  const auto ids = s.inputs.topk_ids.as<std::int32_t>();
  const auto weights = s.inputs.topk_weights.as<float>();
  ASSERT_EQ(ids.size(), routing.ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(s.inputs.expert_ids.at(static_cast<std::size_t>(ids[i])), routing.ids[i]) << i;
    EXPECT_EQ(weights[i], static_cast<float>(routing.weights[i])) << i;
  }
}

TEST_F(ObservedLayerFiles, RoutesWithTheCheckpointRouterAndKeepsOnlyRoutedExperts) {
  const ObservedLayer l = load_observed_layer(request());
  const std::set<std::int64_t> routed(layer_.routing.ids.begin(), layer_.routing.ids.end());
  EXPECT_EQ(l.setup.inputs.expert_ids, std::vector<std::int64_t>(routed.begin(), routed.end()));
  expect_routing(l.setup, layer_.routing);
  EXPECT_EQ(l.setup.inputs.gate_up_blocks.dim(0), static_cast<std::int64_t>(routed.size()));
  // Each materialised expert's bytes are the checkpoint expert's.
  const std::int64_t per = 2 * kI * kH / 2;
  for (std::size_t m = 0; m < l.setup.inputs.expert_ids.size(); ++m) {
    const std::int64_t e = l.setup.inputs.expert_ids[m];
    EXPECT_TRUE(std::equal(l.setup.inputs.gate_up_blocks.as<std::uint8_t>().begin() + static_cast<std::ptrdiff_t>(m) * per,
                           l.setup.inputs.gate_up_blocks.as<std::uint8_t>().begin() + static_cast<std::ptrdiff_t>(m + 1) * per,
                           layer_.weights.w13_blocks.as<std::uint8_t>().begin() + e * per));
  }
  ASSERT_EQ(l.setup.ranks.size(), 1u);
  EXPECT_EQ(l.setup.ranks[0].tp, 1);
  EXPECT_NE(l.routing_source.find("router"), std::string::npos);
  EXPECT_NE(l.observed_label.find("'y'"), std::string::npos);
}

TEST_F(ObservedLayerFiles, UsesTheGivenRoutingAndTpRanks) {
  // Every token to experts 5 and 0, in that slot order, weights 0.75 / 0.25.
  Tensor ids(DType::I64, {kT, kK}), weights(DType::F32, {kT, kK});
  ref::Routing given{kT, kK, {}, {}};
  for (std::int64_t t = 0; t < kT; ++t) {
    ids.as_mut<std::int64_t>()[t * kK] = 5;
    ids.as_mut<std::int64_t>()[t * kK + 1] = 0;
    weights.as_mut<float>()[t * kK] = 0.75f;
    weights.as_mut<float>()[t * kK + 1] = 0.25f;
    given.ids.insert(given.ids.end(), {5, 0});
    given.weights.insert(given.weights.end(), {0.75, 0.25});
  }
  LayerRequest r = request();
  r.topk = std::nullopt;  // k read off the ids
  r.topk_ids = TensorArg{write("ids.safetensors", {{"ids", ids}}), std::nullopt};
  r.topk_weights = TensorArg{write("w.safetensors", {{"topk_weights", weights}, {"other", ids}}), std::nullopt};
  r.tp = 2;
  const ObservedLayer l = load_observed_layer(r);
  EXPECT_EQ(l.setup.inputs.expert_ids, (std::vector<std::int64_t>{0, 5}));
  expect_routing(l.setup, given);
  ASSERT_EQ(l.setup.ranks.size(), 2u);
  EXPECT_EQ(l.setup.ranks[1].rank, 1);
  r.rank = 1;
  EXPECT_EQ(load_observed_layer(r).setup.ranks.size(), 1u);
  EXPECT_EQ(load_observed_layer(r).setup.ranks[0].rank, 1);
}

TEST_F(ObservedLayerFiles, ReadsNpyDumps) {
  Tensor ids(DType::I64, {kT, kK}), weights(DType::F32, {kT, kK});
  for (std::int64_t i = 0; i < kT * kK; ++i) {
    ids.as_mut<std::int64_t>()[i] = (i * 5) % kE;
    weights.as_mut<float>()[i] = 0.5f;
  }
  write_npy(dir_ / "y.npy", Tensor(DType::F32, {kT, kH}));
  write_npy(dir_ / "topk_ids.npy", ids);
  write_npy(dir_ / "topk_weights.npy", weights);
  LayerRequest r = request();
  r.observed = {dir_ / "y.npy", std::nullopt};
  r.topk_ids = TensorArg{dir_ / "topk_ids.npy", std::nullopt};
  r.topk_weights = TensorArg{dir_ / "topk_weights.npy", std::nullopt};
  const ObservedLayer l = load_observed_layer(r);
  EXPECT_EQ(l.observed.dtype(), DType::F32);
  EXPECT_NE(l.observed_label.find("y.npy: tensor 'y'"), std::string::npos) << l.observed_label;
  ref::Routing given{kT, kK, {}, std::vector<double>(kT * kK, 0.5)};
  for (std::int64_t i = 0; i < kT * kK; ++i) given.ids.push_back(static_cast<std::int32_t>((i * 5) % kE));
  expect_routing(l.setup, given);

  r.observed.tensor = "output";  // a .npy's one tensor is named after the file
  try {
    load_observed_layer(r);
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--observed-tensor 'output'"), std::string::npos) << e.what();
  }
}

TEST_F(ObservedLayerFiles, TokensKeepsTheFirstRows) {
  LayerRequest r = request();
  r.tokens = 2;
  const ObservedLayer l = load_observed_layer(r);
  EXPECT_EQ(l.observed.shape(), (Shape{2, kH}));
  EXPECT_EQ(l.setup.inputs.hidden.shape(), (Shape{2, kH}));
  for (std::int64_t i = 0; i < 2 * kH; ++i) EXPECT_EQ(l.setup.inputs.hidden.as<float>()[i], layer_.hidden.as<float>()[i]);
  // The router routes each token on its own: the first two tokens' routing is unchanged.
  ref::Routing first_two{2, kK, {}, {}};
  first_two.ids.assign(layer_.routing.ids.begin(), layer_.routing.ids.begin() + 2 * kK);
  first_two.weights.assign(layer_.routing.weights.begin(), layer_.routing.weights.begin() + 2 * kK);
  expect_routing(l.setup, first_two);
}

TEST_F(ObservedLayerFiles, MalformedInputsNameTheFileAndField) {
  const std::string obs = observed_.string();
  auto expect_error = [&](const LayerRequest& r, std::vector<std::string> parts) {
    const std::string message = error_of(r);
    for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  };
  {  // wrong hidden size
    LayerRequest r = request();
    r.observed.path = write("wide.safetensors", {{"y", Tensor(DType::F32, {kT, kH + 32})}});
    expect_error(r, {"wide.safetensors", "tensor 'y'", "dimension 1 is 96", "hidden_size = 64"});
  }
  {  // wrong rank
    LayerRequest r = request();
    r.observed.path = write("rank3.safetensors", {{"y", Tensor(DType::F32, {1, kT, kH})}});
    expect_error(r, {"rank3.safetensors", "rank 3"});
  }
  {  // wrong dtype
    LayerRequest r = request();
    r.observed.path = write("ints.safetensors", {{"y", Tensor(DType::I32, {kT, kH})}});
    expect_error(r, {"ints.safetensors", "dtype I32"});
  }
  {  // token counts disagree
    LayerRequest r = request();
    r.observed.path = write("short.safetensors", {{"y", Tensor(DType::F32, {kT - 1, kH})}});
    expect_error(r, {"short.safetensors", "dimension 0 (tokens) is 2", hidden_.string(), "3 tokens"});
  }
  {  // a tensor named that is not there
    LayerRequest r = request();
    r.observed.tensor = "logits";
    expect_error(r, {obs, "--observed-tensor 'logits'", "no such tensor", "found: y"});
  }
  {  // several tensors, none of the default names
    LayerRequest r = request();
    r.observed.path = write("two.safetensors", {{"a", Tensor(DType::F32, {kT, kH})}, {"b", Tensor(DType::F32, {kT, kH})}});
    expect_error(r, {"two.safetensors", "a, b", "--observed-tensor"});
  }
  {  // a non-finite hidden state
    Tensor h = layer_.hidden;
    h.as_mut<float>()[kH + 5] = std::numeric_limits<float>::infinity();
    LayerRequest r = request();
    r.hidden.path = write("inf.safetensors", {{"hidden_states", h}});
    expect_error(r, {"inf.safetensors", "tensor 'hidden_states'", "element [1, 5]", "finite"});
  }
  {  // a missing file
    LayerRequest r = request();
    r.hidden.path = dir_ / "nope.safetensors";
    expect_error(r, {"nope.safetensors"});
  }
  {  // a layer the checkpoint does not have
    LayerRequest r = request();
    r.layer = 7;
    expect_error(r, {"model.layers.7.mlp.experts.gate_up_proj_blocks", "not found", ckpt_.string()});
  }
  {  // routing: one file without the other
    LayerRequest r = request();
    r.topk_ids = TensorArg{observed_, std::nullopt};
    expect_error(r, {"--topk-ids and --topk-weights"});
  }
  {  // routing: float ids, and ids of the wrong width
    LayerRequest r = request();
    r.topk_ids = TensorArg{write("fids.safetensors", {{"topk_ids", Tensor(DType::F32, {kT, kK})}}), std::nullopt};
    r.topk_weights = TensorArg{write("w.safetensors", {{"topk_weights", Tensor(DType::F32, {kT, kK})}}), std::nullopt};
    expect_error(r, {"fids.safetensors", "tensor 'topk_ids'", "dtype F32"});
    r.topk_ids = TensorArg{write("wide_ids.safetensors", {{"topk_ids", Tensor(DType::I32, {kT, kK + 1})}}), std::nullopt};
    expect_error(r, {"wide_ids.safetensors", "[3, 3]", "num_experts_per_tok = 2"});
    Tensor ids(DType::I32, {kT, kK});
    ids.as_mut<std::int32_t>()[1] = kE;  // an expert the layer does not have
    r.topk_ids = TensorArg{write("far_ids.safetensors", {{"topk_ids", ids}}), std::nullopt};
    expect_error(r, {"far_ids.safetensors", "expert 6", "outside [0, 6)"});
  }
  {  // --rank outside --tp
    LayerRequest r = request();
    r.tp = 2;
    r.rank = 2;
    expect_error(r, {"--rank", "outside [0, tp = 2)"});
  }
  {  // more tokens than the files hold
    LayerRequest r = request();
    r.tokens = kT + 1;
    expect_error(r, {"--tokens: 4 is outside [1, 3]", hidden_.string()});
  }
  {  // no k anywhere
    LayerRequest r = request();
    r.topk = std::nullopt;
    expect_error(r, {"num_experts_per_tok"});
  }
}

TEST_F(ObservedLayerFiles, RefusesNanScalesOnRoutedExperts) {
  const std::int32_t routed = layer_.routing.ids[0];
  layer_.weights.w2_scales.as_mut<std::uint8_t>()[static_cast<std::size_t>(routed) * kH * (kI / 32) + 3] = 0xFF;
  testing::write_checkpoint(layer_, kLayer, ckpt_);
  const std::string message = error_of(request());
  EXPECT_NE(message.find("down_proj_scales"), std::string::npos) << message;
  EXPECT_NE(message.find("routed expert " + std::to_string(routed) + ", row 1, block 1"), std::string::npos) << message;
}

}  // namespace
}  // namespace mxg::diagnose
