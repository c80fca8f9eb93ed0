// Picking the meant tensor out of a safetensors file.
#include "harness/diagnose/output/input_tensor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::diagnose {

InputTensor read_input_tensor(const TensorArg& arg, std::string_view name_option,
                              const std::vector<std::string>& default_names) {
  const SafetensorsFile file = SafetensorsFile::open(arg.path);
  const auto& names = file.names();
  std::string chosen;
  if (arg.tensor) {
    if (!file.contains(*arg.tensor)) {
      throw InputError(fmt::format("{}: {} '{}': no such tensor (found: {})", arg.path.string(), name_option,
                                   *arg.tensor, names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    chosen = *arg.tensor;
  } else if (names.size() == 1) {
    chosen = names.front();
  } else {
    for (const auto& candidate : default_names) {
      if (file.contains(candidate)) {
        chosen = candidate;
        break;
      }
    }
    if (chosen.empty()) {
      throw InputError(fmt::format("{}: {} tensors ({}) and none named {}: say which with {}", arg.path.string(),
                                   names.size(), names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")),
                                   fmt::join(default_names, " or "), name_option));
    }
  }
  return {file.get(chosen), fmt::format("{}: tensor '{}'", arg.path.string(), chosen)};
}

}  // namespace mxg::diagnose
