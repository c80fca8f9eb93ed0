// Hugging Face checkpoints as the reference reads them: single safetensors files, sharded
// checkpoints (model.safetensors.index.json: weight_map tensor -> shard file) and folders holding
// either; several sources are searched in order. Plus the GPT-OSS MoE tensor names of one layer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor/safetensors.hpp"
#include "reference/moe_weights.hpp"

namespace mxg::ref {

class CheckpointSet {
 public:
  // Each source is a .safetensors file, an index .json, or a folder with model.safetensors.index.json
  // (or, without one, every *.safetensors file in it, by name). Unreadable or malformed sources
  // throw InputError naming the path. Shards are opened when first needed.
  static CheckpointSet open(const std::vector<std::filesystem::path>& sources);

  struct Found {
    Tensor tensor;
    std::filesystem::path file;
  };
  bool contains(std::string_view name) const;
  // The first source that has `name`; InputError naming the tensor, the sources searched and some
  // of the names they hold when none has it.
  Found get(std::string_view name) const;
  // "a.safetensors, shards/model.safetensors.index.json (3 files)"
  std::string describe_sources() const;
  // Folder of the first source (where a config.json would sit).
  std::filesystem::path first_folder() const;

 private:
  struct Source {
    std::filesystem::path given;                          // as named by the user
    std::map<std::string, std::filesystem::path, std::less<>> weight_map;  // index sources
    std::vector<std::filesystem::path> files;             // file and folder-of-files sources
  };
  const SafetensorsFile& file(const std::filesystem::path& path) const;
  std::vector<Source> sources_;
  mutable std::map<std::filesystem::path, std::shared_ptr<SafetensorsFile>> opened_;
};

// "model.layers.{layer}.mlp.experts.gate_up_proj_blocks" and so on.
std::string expert_tensor_name(std::int64_t layer, std::string_view suffix);
std::string router_tensor_name(std::int64_t layer, std::string_view suffix);

// The eight tensors of one layer (router ones only when `with_router`), labelled
// "FILE: tensor 'NAME'" for error messages. Shapes are checked later by validate_weights.
MoeWeights load_layer_weights(const CheckpointSet& checkpoint, std::int64_t layer, bool with_router);

}  // namespace mxg::ref
