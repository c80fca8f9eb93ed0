// The format contract between ci/tools/dump_moe_weights.py and this library: tests/data/ holds the
// Python tool's sample dump (its test checks the fixture is still what the tool writes), and here
// the C++ side must read the same bytes back. The expected bytes follow the sample's recipe,
// byte i of a tensor = (7·i + seed) mod 256, recomputed here.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "harness/diagnose/dump/dump_file.hpp"

namespace mxg::diagnose {
namespace {

using layout::ExpertTensor;

const std::filesystem::path kFixture =
    std::filesystem::path(MXG_SOURCE_DIR) / "harness/diagnose/dump/tests/data/sglang_layer3.safetensors";

bool follows_pattern(const Tensor& t, int seed) {
  const auto bytes = t.bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (std::to_integer<int>(bytes[i]) != static_cast<int>((i * 7 + static_cast<std::size_t>(seed)) % 256)) return false;
  }
  return !bytes.empty();
}

TEST(PythonDump, EveryKindReadsBackWithItsSidecarEntry) {
  const auto sidecar = find_dump_sidecar(kFixture);
  ASSERT_TRUE(sidecar.has_value());
  EXPECT_EQ(sidecar->framework, "sglang");
  EXPECT_EQ(sidecar->layer, 3);
  EXPECT_EQ(sidecar->module, "model.layers.3.mlp.experts");
  EXPECT_EQ(sidecar->gate_mode, GateMode::Interleave);
  EXPECT_EQ(sidecar->tp_size, 8);
  EXPECT_EQ(sidecar->tp_rank, 2);
  EXPECT_EQ(sidecar->ep_size, 1);
  EXPECT_EQ(sidecar->environment.at("SGLANG_USE_AITER_MOE_GU_ITLV"), "1");
  EXPECT_EQ(sidecar->module_attributes.at("hidden_size"), 32);

  struct Expected {
    ExpertTensor kind;
    DType dtype;
    Shape shape;
    int seed;
    std::string dtype_in_process;
    std::optional<bool> is_shuffled;
  };
  const Expected expected[] = {
      {ExpertTensor::gate_up_proj_blocks, DType::U8, {2, 64, 16}, 1, "torch.float4_e2m1fn_x2", true},
      {ExpertTensor::gate_up_proj_scales, DType::U8, {128, 1}, 2, "torch.uint8", false},
      {ExpertTensor::gate_up_proj_bias, DType::F32, {2, 64}, 3, "torch.float32", std::nullopt},
      {ExpertTensor::down_proj_blocks, DType::U8, {2, 32, 16}, 4, "torch.uint8", true},
      {ExpertTensor::down_proj_scales, DType::U8, {64, 1}, 5, "torch.float8_e8m0fnu", std::nullopt},
      {ExpertTensor::down_proj_bias, DType::BF16, {2, 32}, 6, "torch.bfloat16", std::nullopt},
  };
  for (const Expected& e : expected) {
    SCOPED_TRACE(std::string(layout::expert_tensor_name(e.kind)));
    const DumpTensor d = load_dump_tensor(kFixture, std::nullopt, e.kind);
    EXPECT_EQ(d.tensor.dtype(), e.dtype);
    EXPECT_EQ(d.tensor.shape(), e.shape);
    EXPECT_TRUE(follows_pattern(d.tensor, e.seed));
    const SidecarTensor* info = tensor_info(*sidecar, d.name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->name, d.name);
    EXPECT_EQ(info->dtype_in_process, e.dtype_in_process);
    EXPECT_EQ(info->is_shuffled, e.is_shuffled);
    EXPECT_NO_THROW(check_sidecar_matches(*sidecar, *info, d.tensor));
  }
  const SidecarTensor* w13 = tensor_info(*sidecar, "w13_weight");  // by parameter, as for a .npy
  ASSERT_NE(w13, nullptr);
  EXPECT_EQ(w13->attributes.at("weight_loader"), "<function weight_loader>");
}

}  // namespace
}  // namespace mxg::diagnose
