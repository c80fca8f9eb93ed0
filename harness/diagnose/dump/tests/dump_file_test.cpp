// load_dump_tensor: format by extension and by sniffing, tensor choice by name / single tensor /
// kind suffix (checkpoint and serving spellings), and the messages when the choice is ambiguous.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "harness/diagnose/dump/dump_file.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/npy.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "reference/tests/temp_dir.hpp"

namespace mxg::diagnose {
namespace {

using layout::ExpertTensor;
using ref::testing::TempDir;

// Bytes that differ per tensor (seed) and per position, so picking the wrong tensor shows.
Tensor filled(DType dtype, Shape shape, std::uint8_t seed) {
  Tensor t(dtype, std::move(shape));
  std::uint8_t v = seed;
  for (std::byte& b : t.mutable_bytes()) b = static_cast<std::byte>(v = static_cast<std::uint8_t>(v * 5 + 3));
  return t;
}

std::string bytes_of(const Tensor& t) { return {reinterpret_cast<const char*>(t.bytes().data()), t.nbytes()}; }

void write_text(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The InputError message of loading, or "" if it loaded.
std::string load_error(const std::filesystem::path& file, const std::optional<std::string>& name,
                       std::optional<ExpertTensor> kind) {
  try {
    load_dump_tensor(file, name, kind);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// An SGLang-style layer dump: six serving tensors of one layer, different dtypes.
struct LayerDump {
  std::filesystem::path path;
  NamedTensors tensors;
};
LayerDump sglang_layer(const TempDir& dir, const std::string& file = "layer3.safetensors") {
  const std::string p = "model.layers.3.mlp.experts.";
  LayerDump d{dir / file,
              {{p + "w13_weight", filled(DType::U8, {2, 64, 16}, 1)},
               {p + "w13_weight_scale", filled(DType::U8, {2, 64, 1}, 2)},
               {p + "w13_weight_bias", filled(DType::F32, {2, 64}, 3)},
               {p + "w2_weight", filled(DType::U8, {2, 32, 16}, 4)},
               {p + "w2_weight_scale", filled(DType::U8, {2, 32, 1}, 5)},
               {p + "w2_weight_bias", filled(DType::BF16, {2, 32}, 6)}}};
  write_safetensors(d.path, d.tensors);
  return d;
}

TEST(DumpFile, PicksEachKindBySuffixWithoutConfusingWeightAndScale) {
  TempDir dir;
  const LayerDump d = sglang_layer(dir);
  const std::vector<std::pair<ExpertTensor, std::size_t>> expected = {
      {ExpertTensor::gate_up_proj_blocks, 0}, {ExpertTensor::gate_up_proj_scales, 1},
      {ExpertTensor::gate_up_proj_bias, 2},   {ExpertTensor::down_proj_blocks, 3},
      {ExpertTensor::down_proj_scales, 4},    {ExpertTensor::down_proj_bias, 5}};
  for (const auto& [kind, index] : expected) {
    SCOPED_TRACE(std::string(layout::expert_tensor_name(kind)));
    const DumpTensor t = load_dump_tensor(d.path, std::nullopt, kind);
    EXPECT_EQ(t.name, d.tensors[index].first);
    EXPECT_EQ(t.file, d.path);
    EXPECT_EQ(t.tensor.dtype(), d.tensors[index].second.dtype());
    EXPECT_EQ(t.tensor.shape(), d.tensors[index].second.shape());
    EXPECT_EQ(bytes_of(t.tensor), bytes_of(d.tensors[index].second));
    EXPECT_EQ(dump_label(t), d.path.string() + ": tensor '" + d.tensors[index].first + "'");
  }
}

TEST(DumpFile, ExactNameWinsAndAMissingNameListsTheTensors) {
  TempDir dir;
  const LayerDump d = sglang_layer(dir);
  const DumpTensor t = load_dump_tensor(d.path, d.tensors[4].first, ExpertTensor::gate_up_proj_blocks);
  EXPECT_EQ(t.name, d.tensors[4].first);  // the name overrides the kind
  EXPECT_EQ(bytes_of(t.tensor), bytes_of(d.tensors[4].second));

  const std::string m = load_error(d.path, std::string("w13_weight"), std::nullopt);
  EXPECT_NE(m.find(d.path.string()), std::string::npos) << m;
  EXPECT_NE(m.find("'w13_weight'"), std::string::npos) << m;
  EXPECT_NE(m.find("model.layers.3.mlp.experts.w2_weight_bias"), std::string::npos) << m;
}

TEST(DumpFile, VllmBiasNamesAndCheckpointNamesMatchTheirKind) {
  TempDir dir;
  const auto path = dir / "vllm.safetensors";
  const Tensor bias = filled(DType::BF16, {2, 64}, 7), weight = filled(DType::U8, {2, 64, 16}, 8);
  write_safetensors(path, {{"w13_bias", bias}, {"w13_weight", weight}, {"w2_bias", filled(DType::BF16, {2, 32}, 9)}});
  EXPECT_EQ(load_dump_tensor(path, std::nullopt, ExpertTensor::gate_up_proj_bias).name, "w13_bias");
  EXPECT_EQ(load_dump_tensor(path, std::nullopt, ExpertTensor::down_proj_bias).name, "w2_bias");
  EXPECT_EQ(load_dump_tensor(path, std::nullopt, ExpertTensor::gate_up_proj_blocks).name, "w13_weight");

  const auto ckpt = dir / "ckpt.safetensors";
  write_safetensors(ckpt, {{"model.layers.0.mlp.experts.gate_up_proj_blocks", weight},
                           {"model.layers.0.mlp.experts.gate_up_proj_bias", bias}});
  EXPECT_EQ(load_dump_tensor(ckpt, std::nullopt, ExpertTensor::gate_up_proj_bias).name,
            "model.layers.0.mlp.experts.gate_up_proj_bias");
}

TEST(DumpFile, SuffixMustFollowAModulePathSeparator) {
  TempDir dir;
  const auto path = dir / "x.safetensors";
  // "xw2_weight" is not a w2_weight; "other" makes the file hold more than one tensor.
  write_safetensors(path, {{"xw2_weight", filled(DType::U8, {4}, 1)}, {"other", filled(DType::U8, {4}, 2)}});
  const std::string m = load_error(path, std::nullopt, ExpertTensor::down_proj_blocks);
  EXPECT_NE(m.find("no tensor is named like down_proj_blocks"), std::string::npos) << m;
  EXPECT_NE(m.find("xw2_weight, other"), std::string::npos) << m;
  EXPECT_NE(m.find("--dump-tensor"), std::string::npos) << m;
}

TEST(DumpFile, SeveralCandidatesAskForDumpTensor) {
  TempDir dir;
  const auto path = dir / "two_layers.safetensors";
  write_safetensors(path, {{"model.layers.3.mlp.experts.w2_weight", filled(DType::U8, {4}, 1)},
                           {"model.layers.4.mlp.experts.w2_weight", filled(DType::U8, {4}, 2)}});
  const std::string m = load_error(path, std::nullopt, ExpertTensor::down_proj_blocks);
  EXPECT_NE(m.find("2 tensors are named like down_proj_blocks"), std::string::npos) << m;
  EXPECT_NE(m.find("model.layers.3.mlp.experts.w2_weight, model.layers.4.mlp.experts.w2_weight"), std::string::npos)
      << m;
  EXPECT_NE(m.find("--dump-tensor"), std::string::npos) << m;

  const std::string no_kind = load_error(path, std::nullopt, std::nullopt);
  EXPECT_NE(no_kind.find("holds 2 tensors"), std::string::npos) << no_kind;
  EXPECT_NE(no_kind.find("--dump-tensor"), std::string::npos) << no_kind;
}

TEST(DumpFile, ASingleTensorFileNeedsNoNameOrKind) {
  TempDir dir;
  const auto path = dir / "one.safetensors";
  const Tensor t = filled(DType::I32, {3, 5}, 4);
  write_safetensors(path, {{"anything", t}});
  const DumpTensor d = load_dump_tensor(path, std::nullopt, ExpertTensor::down_proj_scales);
  EXPECT_EQ(d.name, "anything");
  EXPECT_EQ(bytes_of(d.tensor), bytes_of(t));

  const auto empty = dir / "empty.safetensors";
  write_safetensors(empty, {});
  EXPECT_NE(load_error(empty, std::nullopt, std::nullopt).find("holds no tensors"), std::string::npos);
}

TEST(DumpFile, NpyIsNamedAfterItsStem) {
  TempDir dir;
  const auto path = dir / "w2_weight.npy";
  const Tensor t = filled(DType::U8, {2, 32, 16}, 9);
  write_npy(path, t);
  const DumpTensor d = load_dump_tensor(path, std::nullopt, ExpertTensor::down_proj_blocks);
  EXPECT_EQ(d.name, "w2_weight");
  EXPECT_EQ(d.tensor.shape(), t.shape());
  EXPECT_EQ(bytes_of(d.tensor), bytes_of(t));
  EXPECT_EQ(load_dump_tensor(path, std::string("w2_weight"), std::nullopt).name, "w2_weight");
  const std::string m = load_error(path, std::string("w13_weight"), std::nullopt);
  EXPECT_NE(m.find("'w2_weight'"), std::string::npos) << m;
  EXPECT_NE(m.find("'w13_weight'"), std::string::npos) << m;
}

TEST(DumpFile, SniffsTheFormatWhenTheExtensionSaysNothing) {
  TempDir dir;
  const Tensor t = filled(DType::F32, {4}, 3);
  write_npy(dir / "a.npy", t);
  std::filesystem::rename(dir / "a.npy", dir / "a.bin");
  EXPECT_EQ(detect_dump_format(dir / "a.bin"), DumpFormat::Npy);
  EXPECT_EQ(bytes_of(load_dump_tensor(dir / "a.bin", std::nullopt, std::nullopt).tensor), bytes_of(t));
  EXPECT_EQ(load_dump_tensor(dir / "a.bin", std::nullopt, std::nullopt).name, "a");

  write_safetensors(dir / "b.safetensors", {{"w", t}});
  std::filesystem::rename(dir / "b.safetensors", dir / "b.pt");
  EXPECT_EQ(detect_dump_format(dir / "b.pt"), DumpFormat::Safetensors);
  EXPECT_EQ(bytes_of(load_dump_tensor(dir / "b.pt", std::nullopt, std::nullopt).tensor), bytes_of(t));

  // Extensions are compared without case.
  write_npy(dir / "UPPER.NPY", t);
  EXPECT_EQ(detect_dump_format(dir / "UPPER.NPY"), DumpFormat::Npy);
}

TEST(DumpFile, UnknownFormatsSayWhatWasFound) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10), "zip archive"},
      {std::string("\x80\x02}q\x00(X\x04\x00\x00\x00", 11), "pickle"},
      {"hello world, not a tensor\n", "text starting 'hello world, not'"},
      {"", "empty file"},
      {std::string("\x01\x02\x03\xff", 4), "bytes 01 02 03 ff"},
      // A safetensors-looking start whose header length runs past the end.
      {std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10), "bytes ff 00"},
  };
  for (const auto& [bytes, expected] : cases) {
    SCOPED_TRACE(expected);
    const auto path = dir / "dump.bin";
    write_text(path, bytes);
    const std::string m = load_error(path, std::nullopt, std::nullopt);
    EXPECT_EQ(m.rfind(path.string() + ": not a .safetensors or .npy dump: found ", 0), 0u) << m;
    EXPECT_NE(m.find(expected), std::string::npos) << m;
  }
  const std::string missing = load_error(dir / "absent.bin", std::nullopt, std::nullopt);
  EXPECT_NE(missing.find("absent.bin: cannot read"), std::string::npos) << missing;
}

TEST(DumpFile, ReaderErrorsPassThroughWithTheFileName) {
  TempDir dir;
  const auto path = dir / "bad.npy";
  write_text(path, "not numpy at all");
  const std::string m = load_error(path, std::nullopt, std::nullopt);
  EXPECT_EQ(m.rfind(path.string() + ": magic", 0), 0u) << m;
}

TEST(DumpFile, ServingNamesCoverEveryKind) {
  for (auto kind : {ExpertTensor::gate_up_proj_blocks, ExpertTensor::gate_up_proj_scales,
                    ExpertTensor::gate_up_proj_bias, ExpertTensor::down_proj_blocks, ExpertTensor::down_proj_scales,
                    ExpertTensor::down_proj_bias}) {
    const auto names = serving_tensor_names(kind);
    ASSERT_FALSE(names.empty());
    const bool gate_up = layout::expert_tensor_name(kind).starts_with("gate_up");
    for (std::string_view n : names) EXPECT_EQ(n.starts_with("w13_"), gate_up) << n;
  }
}

}  // namespace
}  // namespace mxg::diagnose
