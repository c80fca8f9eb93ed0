// Picking the meant tensor out of a dump file; the loading itself is harness/diagnose/dump's.
#include "harness/diagnose/output/input_tensor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/diagnose/dump/dump_file.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::diagnose {

namespace {

// The safetensors tensor meant: the named one, the only one, or the first default name present.
// Resolved here (not by load_dump_tensor) so that messages name this command's option.
std::string pick_name(const TensorArg& arg, std::string_view name_option, const std::vector<std::string>& defaults) {
  const SafetensorsFile file = SafetensorsFile::open(arg.path);
  const auto& names = file.names();
  const std::string found = names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
  if (arg.tensor) {
    if (!file.contains(*arg.tensor)) {
      throw InputError(fmt::format("{}: {} '{}': no such tensor (found: {})", arg.path.string(), name_option,
                                   *arg.tensor, found));
    }
    return *arg.tensor;
  }
  if (names.size() == 1) return names.front();
  for (const auto& candidate : defaults) {
    if (file.contains(candidate)) return candidate;
  }
  throw InputError(fmt::format("{}: {} tensors ({}) and none named {}: say which with {}", arg.path.string(),
                               names.size(), found, fmt::join(defaults, " or "), name_option));
}

}  // namespace

InputTensor read_input_tensor(const TensorArg& arg, std::string_view name_option,
                              const std::vector<std::string>& default_names) {
  std::optional<std::string> name = arg.tensor;
  if (detect_dump_format(arg.path) == DumpFormat::Safetensors) {
    name = pick_name(arg, name_option, default_names);
  } else if (name && *name != arg.path.stem().string()) {
    throw InputError(fmt::format("{}: {} '{}': a .npy file holds one tensor, named after the file ('{}')",
                                 arg.path.string(), name_option, *name, arg.path.stem().string()));
  }
  DumpTensor d = load_dump_tensor(arg.path, name, std::nullopt);
  return {std::move(d.tensor), dump_label(d)};
}

}  // namespace mxg::diagnose
