// Safetensors writer: compact JSON header padded with spaces to 8 bytes, contiguous data, written
// to a temporary file beside the destination and renamed into place.
#include <algorithm>
#include <array>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common/errors.hpp"
#include "kernels/tensor/atomic_write.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::size_t kHeaderAlign = 8;

// Where each tensor's bytes go. The data section is laid out by decreasing element size (stable,
// so equal sizes keep the caller's order): the data section starts 8-aligned and every group's
// length is a multiple of its element size, so every tensor lands aligned to its own dtype and
// readers (ours, numpy, torch) can view it in place. The Python library orders data the same way.
std::vector<std::pair<std::uint64_t, std::uint64_t>> place_tensors(const NamedTensors& tensors,
                                                                   std::vector<std::size_t>& write_order) {
  write_order.resize(tensors.size());
  std::iota(write_order.begin(), write_order.end(), std::size_t{0});
  std::stable_sort(write_order.begin(), write_order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });
  std::vector<std::pair<std::uint64_t, std::uint64_t>> offsets(tensors.size());
  std::uint64_t at = 0;
  for (std::size_t i : write_order) {
    offsets[i] = {at, at + tensors[i].second.nbytes()};
    at += tensors[i].second.nbytes();
  }
  return offsets;
}

std::string build_header(const std::filesystem::path& path, const NamedTensors& tensors,
                         const std::map<std::string, std::string>& metadata,
                         const std::vector<std::pair<std::uint64_t, std::uint64_t>>& offsets) {
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    if (name == "__metadata__") throw InputError(fmt::format("{}: tensor '{}': name is reserved", path.string(), name));
    if (!seen.insert(name).second) {
      throw InputError(fmt::format("{}: tensor '{}': name given twice", path.string(), name));
    }
    ordered_json entry = ordered_json::object();
    entry["dtype"] = std::string(dtype_name(tensor.dtype()));
    entry["shape"] = tensor.shape();
    entry["data_offsets"] = {offsets[i].first, offsets[i].second};
    header[name] = std::move(entry);
  }
  std::string text;
  try {
    text = header.dump();  // compact, like the reference writer; strict: invalid UTF-8 throws
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: a tensor name or metadata string is not valid UTF-8: {}", path.string(), e.what()));
  }
  text.append((kHeaderAlign - text.size() % kHeaderAlign) % kHeaderAlign, ' ');
  return text;
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::size_t> write_order;
  const auto offsets = place_tensors(tensors, write_order);
  const std::string header = build_header(path, tensors, metadata, offsets);

  std::array<unsigned char, 8> length{};
  for (std::size_t i = 0; i < length.size(); ++i) {
    length[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
  }
  AtomicFileWriter out(path);
  out.write(length.data(), length.size());
  out.write(header.data(), header.size());
  for (std::size_t i : write_order) {
    const auto bytes = tensors[i].second.bytes();
    if (!bytes.empty()) out.write(bytes.data(), bytes.size());
  }
  out.commit();
}

}  // namespace mxg
