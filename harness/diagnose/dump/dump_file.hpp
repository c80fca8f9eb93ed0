// Loading one tensor a serving process dumped: a .safetensors file (memory-mapped, zero copy) or
// a .npy file, picked by extension or, failing that, by the file's first bytes. Includes the
// sidecar API (dump_sidecar.hpp), so one include serves `mxguard diagnose`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/diagnose/dump/dump_sidecar.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::diagnose {

struct DumpTensor {
  Tensor tensor;
  std::string name;             // tensor name in a safetensors file; the file stem for .npy
  std::filesystem::path file;
};

enum class DumpFormat { Safetensors, Npy };
// By extension (.safetensors / .npy), else by magic bytes; InputError naming the file and what
// its first bytes look like (zip / .npz, torch.save pickle, text, ...) when neither fits.
DumpFormat detect_dump_format(const std::filesystem::path& file);

// Parameter names serving stacks give a kind (SGLang "w13_weight_bias", vLLM "w13_bias", ...),
// the SGLang spelling first.
std::vector<std::string_view> serving_tensor_names(layout::ExpertTensor kind);

// Picks the tensor:
//  - TENSOR_NAME given: that exact name (for .npy it must equal the file stem);
//  - else a file with one tensor: that one;
//  - else with KIND: the only tensor whose name is, or ends with "." followed by, the kind's
//    checkpoint name (layout::expert_tensor_name) or one of its serving_tensor_names.
// Several or no candidates: InputError listing them and telling the user to pass --dump-tensor.
DumpTensor load_dump_tensor(const std::filesystem::path& file, const std::optional<std::string>& tensor_name,
                            std::optional<layout::ExpertTensor> kind);

// "FILE: tensor 'NAME'" — the prefix for messages about a dump tensor.
std::string dump_label(const DumpTensor& d);

}  // namespace mxg::diagnose
