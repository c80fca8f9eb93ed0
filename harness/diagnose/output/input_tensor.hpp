// Reading one tensor named on the command line (--hidden, --observed, --topk-ids, --topk-weights):
// which tensor of the file is meant, and a label for error messages.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor/tensor.hpp"

namespace mxg::diagnose {

// A file and, where the file holds several tensors, which one.
struct TensorArg {
  std::filesystem::path path;
  std::optional<std::string> tensor;
};

struct InputTensor {
  Tensor tensor;
  std::string label;  // "FILE: tensor 'NAME'", the prefix of every error about it
};

// Read with harness/diagnose/dump (a .safetensors or a .npy file, by extension or first bytes).
// The tensor `arg.tensor`, or, without a name, the file's only tensor, or else the first of
// `default_names` the file holds (a .npy holds one tensor, named after the file). InputError
// naming the file, the option (e.g. "--hidden-tensor") and the tensors found when none fits.
InputTensor read_input_tensor(const TensorArg& arg, std::string_view name_option,
                              const std::vector<std::string>& default_names);

}  // namespace mxg::diagnose
