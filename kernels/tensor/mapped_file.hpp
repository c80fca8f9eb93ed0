// A whole file mapped read-only into memory, shared by the readers that hand out zero-copy
// tensor views (safetensors, .npy): the views hold `keepalive`, which unmaps with the last one.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

namespace mxg {

struct MappedFile {
  std::shared_ptr<const void> keepalive;  // munmaps when the last holder goes; null for an empty file
  const std::byte* data = nullptr;
  std::size_t size = 0;

  std::span<const std::byte> bytes() const { return {data, size}; }
};

// Maps PATH (a regular file; an empty one gives an empty mapping). InputError "PATH: cannot open:
// REASON" (or stat / map, or "not a regular file").
MappedFile map_file(const std::filesystem::path& path);

}  // namespace mxg
