// Durable file output shared by the report writers: whole-file atomic replace, append, read.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mxg::report {

// Writes all of `data` to the open descriptor, retrying short writes and EINTR.
// A failure -> mxg::InfraError naming `path` (disk full, I/O error: the environment, not the input).
void write_all(int fd, std::string_view data, const std::filesystem::path& path);

// fsync, failure -> mxg::InfraError naming `path`.
void sync_fd(int fd, const std::filesystem::path& path);

// Makes a new directory entry durable (fsync of the parent directory); best effort on filesystems
// that refuse to fsync directories.
void sync_parent_dir(const std::filesystem::path& path);

// Replaces `path` with `data` via a temporary sibling + fsync + rename, so readers see either the
// old file or the complete new one. Cannot create the file -> mxg::InputError naming it.
void write_file_atomically(const std::filesystem::path& path, std::string_view data);

// Appends `data` (creating the file), then fsyncs. Cannot open -> mxg::InputError naming it.
void append_to_file(const std::filesystem::path& path, std::string_view data);

// Whole file as bytes. Cannot open or read -> mxg::InputError naming it.
std::string read_file(const std::filesystem::path& path);

}  // namespace mxg::report
