// Choosing the file format and the tensor of a dump. Safetensors has no magic number: it is
// recognised by a plausible 8-byte header length followed by '{'.
#include "harness/diagnose/dump/dump_file.hpp"

#include <algorithm>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cctype>
#include <cstdint>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"
#include "kernels/tensor/npy.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::diagnose {

namespace {

constexpr std::size_t kMaxListed = 20;
constexpr std::size_t kSniffBytes = 16;

[[noreturn]] void fail(const std::filesystem::path& file, std::string_view what) {
  throw InputError(fmt::format("{}: {}", file.string(), what));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string list_names(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  const std::size_t shown = std::min(names.size(), kMaxListed);
  std::string out = fmt::format("{}", fmt::join(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(shown), ", "));
  if (names.size() > shown) out += fmt::format(", ... ({} more)", names.size() - shown);
  return out;
}

// What the first bytes of a file that is neither format look like, for the error message.
std::string describe_start(std::string_view head, std::uintmax_t size) {
  if (size == 0) return "an empty file";
  if (head.starts_with("PK\x03\x04")) return "a zip archive (a .npz, or a torch.save file?)";
  if (head.size() >= 2 && head[0] == '\x80' && head[1] >= '\x02' && head[1] <= '\x05') {
    return "a Python pickle (torch.save or pickle.dump?)";
  }
  if (head.starts_with("\x89HDF")) return "an HDF5 file";
  const bool text = std::all_of(head.begin(), head.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 0x20 && u < 0x7F) || c == '\n' || c == '\r' || c == '\t';
  });
  if (text) {
    std::string shown(head);
    std::replace_if(shown.begin(), shown.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
    return fmt::format("text starting '{}'", shown);
  }
  std::string hex;
  for (char c : head) hex += fmt::format("{}{:02x}", hex.empty() ? "" : " ", static_cast<unsigned char>(c));
  return fmt::format("bytes {}", hex);
}

// NAME is SUFFIX, or ends with SUFFIX right after a '.' (a module path) or '/'.
bool has_component_suffix(std::string_view name, std::string_view suffix) {
  if (name == suffix) return true;
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return false;
  const char before = name[name.size() - suffix.size() - 1];
  return before == '.' || before == '/';
}

std::vector<std::string_view> kind_suffixes(layout::ExpertTensor kind) {
  std::vector<std::string_view> out{layout::expert_tensor_name(kind)};
  for (std::string_view s : serving_tensor_names(kind)) out.push_back(s);
  return out;
}

DumpTensor pick_safetensors(const std::filesystem::path& file, const std::optional<std::string>& tensor_name,
                            std::optional<layout::ExpertTensor> kind) {
  const SafetensorsFile st = SafetensorsFile::open(file);
  if (tensor_name) return DumpTensor{st.get(*tensor_name), *tensor_name, file};  // get lists the names when absent
  const std::vector<std::string>& names = st.names();
  if (names.empty()) fail(file, "holds no tensors");
  if (names.size() == 1) return DumpTensor{st.get(names.front()), names.front(), file};
  if (!kind) {
    fail(file, fmt::format("holds {} tensors ({}); pass --dump-tensor NAME to pick one", names.size(),
                           list_names(names)));
  }
  const std::vector<std::string_view> suffixes = kind_suffixes(*kind);
  std::vector<std::string> candidates;
  for (const std::string& name : names) {
    if (std::any_of(suffixes.begin(), suffixes.end(),
                    [&](std::string_view s) { return has_component_suffix(name, s); })) {
      candidates.push_back(name);
    }
  }
  if (candidates.size() == 1) return DumpTensor{st.get(candidates.front()), candidates.front(), file};
  if (candidates.empty()) {
    fail(file, fmt::format("no tensor is named like {} (a name ending in {}); tensors: {}; pass --dump-tensor NAME",
                           layout::expert_tensor_name(*kind), fmt::join(suffixes, " / "), list_names(names)));
  }
  fail(file, fmt::format("{} tensors are named like {}: {}; pass --dump-tensor NAME to pick one", candidates.size(),
                         layout::expert_tensor_name(*kind), list_names(candidates)));
}

}  // namespace

DumpFormat detect_dump_format(const std::filesystem::path& file) {
  const std::string ext = lower(file.extension().string());
  if (ext == ".safetensors") return DumpFormat::Safetensors;
  if (ext == ".npy") return DumpFormat::Npy;

  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) fail(file, fmt::format("cannot read: {}", ec.message()));
  const int fd = open_regular_file(file, file.string());  // a FIFO or device fails here, not blocks
  std::array<char, kSniffBytes> buf{};
  ssize_t got = 0;
  while (static_cast<std::size_t>(got) < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + got, buf.size() - static_cast<std::size_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += n;
  }
  ::close(fd);
  const std::string_view head(buf.data(), static_cast<std::size_t>(got));

  if (head.starts_with("\x93NUMPY")) return DumpFormat::Npy;
  if (head.size() >= 9 && head[8] == '{') {
    std::uint64_t header_len = 0;
    for (int i = 0; i < 8; ++i) header_len |= std::uint64_t{static_cast<unsigned char>(head[i])} << (8 * i);
    if (header_len >= 2 && header_len <= size - 8) return DumpFormat::Safetensors;
  }
  fail(file, fmt::format("not a .safetensors or .npy dump: found {}; dump with ci/tools/dump_moe_weights.py "
                         "(safetensors) or numpy.save (.npy)",
                         describe_start(head, size)));
}

std::vector<std::string_view> serving_tensor_names(layout::ExpertTensor kind) {
  using layout::ExpertTensor;
  switch (kind) {
    case ExpertTensor::gate_up_proj_blocks: return {"w13_weight"};
    case ExpertTensor::gate_up_proj_scales: return {"w13_weight_scale"};
    case ExpertTensor::gate_up_proj_bias: return {"w13_weight_bias", "w13_bias"};
    case ExpertTensor::down_proj_blocks: return {"w2_weight"};
    case ExpertTensor::down_proj_scales: return {"w2_weight_scale"};
    case ExpertTensor::down_proj_bias: return {"w2_weight_bias", "w2_bias"};
  }
  return {};
}

DumpTensor load_dump_tensor(const std::filesystem::path& file, const std::optional<std::string>& tensor_name,
                            std::optional<layout::ExpertTensor> kind) {
  if (detect_dump_format(file) == DumpFormat::Safetensors) return pick_safetensors(file, tensor_name, kind);
  const std::string stem = file.stem().string();
  if (tensor_name && *tensor_name != stem) {
    fail(file, fmt::format("a .npy file holds one tensor, named after the file ('{}'); --dump-tensor '{}' does "
                           "not match",
                           stem, *tensor_name));
  }
  return DumpTensor{read_npy(file), stem, file};
}

std::string dump_label(const DumpTensor& d) { return fmt::format("{}: tensor '{}'", d.file.string(), d.name); }

}  // namespace mxg::diagnose
