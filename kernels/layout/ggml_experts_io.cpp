// Reading and writing the checkpoint and ggml sides of the conversion as safetensors files.
#include "kernels/layout/ggml_experts_io.hpp"

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::layout::ggml {

namespace {

std::array<Tensor*, 6> checkpoint_fields(CheckpointExperts& ck) {
  return {&ck.gate_up_blocks, &ck.gate_up_scales, &ck.gate_up_bias, &ck.down_blocks, &ck.down_scales, &ck.down_bias};
}

std::array<Tensor*, 8> ggml_fields(GgmlExperts& g) {
  return {&g.gate, &g.up, &g.down, &g.gate_bias, &g.up_bias, &g.down_bias, &g.gate_up, &g.gate_up_bias};
}

// "gate_up_blocks" -> "model.layers.<L>.mlp.experts.gate_up_proj_blocks".
std::string hugging_face_name(std::string_view canonical, int layer) {
  const auto underscore = canonical.rfind('_');
  return fmt::format("model.layers.{}.mlp.experts.{}_proj{}", layer, canonical.substr(0, underscore),
                     canonical.substr(underscore));
}

}  // namespace

CheckpointExperts read_checkpoint_experts(const SafetensorsFile& file, std::optional<int> layer) {
  CheckpointExperts ck;
  const auto fields = checkpoint_fields(ck);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string name = layer ? hugging_face_name(kCheckpointTensorNames[i], *layer) : kCheckpointTensorNames[i];
    *fields[i] = file.get(name);  // InputError "FILE: no tensor 'X' (found: ...)" when absent
  }
  check_checkpoint_experts(ck, file.path().string());
  return ck;
}

void write_checkpoint_experts(const std::filesystem::path& path, const CheckpointExperts& ck,
                              const std::map<std::string, std::string>& metadata) {
  CheckpointExperts copy = ck;
  NamedTensors named;
  const auto fields = checkpoint_fields(copy);
  for (std::size_t i = 0; i < fields.size(); ++i) named.emplace_back(kCheckpointTensorNames[i], *fields[i]);
  write_safetensors(path, named, metadata);
}

void save_ggml_experts(const std::filesystem::path& path, const GgmlExperts& experts,
                       const std::map<std::string, std::string>& metadata) {
  GgmlExperts copy = experts;
  NamedTensors named;
  const auto fields = ggml_fields(copy);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i]->empty()) named.emplace_back(kGgmlTensorNames[i], *fields[i]);
  }
  write_safetensors(path, named, metadata);
}

GgmlExperts load_ggml_experts(const std::filesystem::path& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  GgmlExperts g;
  const auto fields = ggml_fields(g);
  for (const std::string& name : file.names()) {
    std::size_t i = 0;
    while (i < fields.size() && name != kGgmlTensorNames[i]) ++i;
    if (i == fields.size()) {
      throw InputError(fmt::format("{}: unknown tensor '{}' (a ggml experts file holds gate, up, down, gate_bias, "
                                   "up_bias, down_bias, or gate_up and gate_up_bias instead of gate and up)",
                                   path.string(), name));
    }
    *fields[i] = file.get(name);
  }
  check_ggml_experts(g, path.string());
  return g;
}

}  // namespace mxg::layout::ggml
