// Opening input files without hanging: a FIFO with no writer, a terminal or a device node given
// where a file is expected must fail at once with a one-line InputError, not block in open(2).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace mxg {

// Opens `path` read-only without blocking (O_NONBLOCK, then fstat), refuses anything but a regular
// file, and returns the descriptor in blocking mode. `label` prefixes messages (e.g. "--data x.json").
// Problems -> mxg::InputError "<label>: <why>".
int open_regular_file(const std::filesystem::path& path, std::string_view label);

// Whole regular file as bytes, refused above `max_bytes` (before reading). -> InputError naming label.
std::string read_regular_file(const std::filesystem::path& path, std::string_view label,
                              std::size_t max_bytes = std::size_t{1} << 30);

// Same, labelled with the path itself.
inline std::string read_regular_file(const std::filesystem::path& path) {
  return read_regular_file(path, path.string());
}

// Outputs are written to a temporary sibling and renamed over `path`: that would silently replace a
// device node, a FIFO, a symlink or a directory with a regular file (as root, `--out /dev/null` would
// replace the device). Anything at `path` other than a regular file -> InputError "<label>: ...".
void check_replaceable_output(const std::filesystem::path& path, std::string_view label);

}  // namespace mxg
