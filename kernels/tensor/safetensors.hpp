// Safetensors reader (memory-mapped, fully validated header) and writer (atomic rename).
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// optional "__metadata__" (string -> string), then the data section.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/tensor/tensor.hpp"

namespace mxg {

class SafetensorsFile {
 public:
  // Maps the file and validates the header; throws InputError naming the file (and tensor) at fault.
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  // Tensor names in data-offset order.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(std::string_view name) const;
  // Zero-copy view; InputError "FILE: no tensor 'X' (found: a, b, …)" when absent.
  Tensor get(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Entry {
    DType dtype;
    Shape shape;
    std::size_t begin, end;  // absolute offsets into the mapping
  };
  std::filesystem::path path_;
  std::shared_ptr<const void> mapping_;
  const std::byte* base_ = nullptr;
  std::vector<std::string> names_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes to PATH.tmp-<pid> then renames, so an interrupted write never leaves a torn file.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mxg
