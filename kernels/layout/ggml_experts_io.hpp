// Safetensors files of one layer's experts, on both sides of the ggml conversion.
//
// Checkpoint side, canonical names (what `mxguard layout ggml-convert` and
// ci/tools/ggml_convert_layer.py read; harness/matrix/canonical_inputs.hpp's fields):
//   gate_up_blocks U8 [E, 2I, H/32, 16]   gate_up_scales U8 [E, 2I, H/32]   gate_up_bias F32|BF16|F16 [E, 2I]
//   down_blocks    U8 [E, H, I/32, 16]    down_scales    U8 [E, H, I/32]    down_bias    F32|BF16|F16 [E, H]
// or, with a layer number, a Hugging Face GPT-OSS file's model.layers.<L>.mlp.experts.<name>
// (gate_up_proj_blocks, gate_up_proj_scales, gate_up_proj_bias, down_proj_*).
//
// ggml side (GgmlExperts, the names are its field names; nothing else may be in the file):
//   gate, up U8 [E, I, H/32*17]   gate_bias, up_bias F32 [E, I]      (separate form)
//   gate_up  U8 [E, 2I, H/32*17]  gate_up_bias F32 [E, 2I]           (merged form, instead)
//   down     U8 [E, H, I/32*17]   down_bias F32 [E, H]
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "kernels/layout/ggml_convert.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::layout::ggml {

// The six canonical checkpoint names, in CheckpointExperts field order.
inline constexpr const char* kCheckpointTensorNames[] = {"gate_up_blocks", "gate_up_scales", "gate_up_bias",
                                                         "down_blocks",    "down_scales",    "down_bias"};
// The GgmlExperts names, in field order.
inline constexpr const char* kGgmlTensorNames[] = {"gate", "up", "down", "gate_bias", "up_bias", "down_bias",
                                                   "gate_up", "gate_up_bias"};

// Reads the checkpoint tensors (canonical names, or the Hugging Face names of `layer`) and checks
// them (check_checkpoint_experts). InputError naming the file and the missing / bad tensor.
CheckpointExperts read_checkpoint_experts(const SafetensorsFile& file, std::optional<int> layer = std::nullopt);
void write_checkpoint_experts(const std::filesystem::path& path, const CheckpointExperts& ck,
                              const std::map<std::string, std::string>& metadata = {});

// Writes the tensors GgmlExperts holds (empty fields are left out) under kGgmlTensorNames.
void save_ggml_experts(const std::filesystem::path& path, const GgmlExperts& experts,
                       const std::map<std::string, std::string>& metadata = {});
// Reads and validates such a file: one-line InputError naming the file and the tensor for an unknown
// or missing tensor, a wrong dtype or a shape that disagrees with the others (check_ggml_experts).
// The tensors are views of the mapped file.
GgmlExperts load_ggml_experts(const std::filesystem::path& path);

}  // namespace mxg::layout::ggml
