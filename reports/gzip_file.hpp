// gzip for the run logs (results.jsonl is compressed when a run closes it): streaming reads that take
// plain and gzip files alike, and durable whole-file compression and decompression. zlib, Debian's
// zlib1g-dev.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

namespace mxg::report {

// Calls `chunk` with successive pieces of the file's content: the decompressed bytes of a gzip file
// (concatenated members included), the bytes themselves of any other file. Cannot open -> mxg::InputError
// naming it; a corrupt or truncated gzip stream -> mxg::InputError naming it and zlib's reason.
void read_maybe_gzip(const std::filesystem::path& path, const std::function<void(std::string_view)>& chunk);

// Compresses `src` into `dst` (temporary sibling, fsync, rename: `dst` is the old file or the whole
// new one), then removes `src`. Failures -> mxg::InfraError naming the file.
void gzip_replace(const std::filesystem::path& src, const std::filesystem::path& dst);

// Writes a gzip file from the pieces `produce` hands to `emit`, the same durable way.
void write_gzip(const std::filesystem::path& dst,
                const std::function<void(const std::function<void(std::string_view)>& emit)>& produce);

// Decompresses `src` into `dst` the same way; `src` is kept.
void gunzip_copy(const std::filesystem::path& src, const std::filesystem::path& dst);

}  // namespace mxg::report
