// A private temporary directory removed with everything in it when it goes out of scope: where
// the external backends put the files they hand a command or a worker.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg {

class TempDir {
 public:
  // `prefix` names the directory (e.g. "mxguard-external"); InfraError when it cannot be made.
  explicit TempDir(std::string_view prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw InfraError(fmt::format("{}: cannot create a temporary directory {}: {}", prefix, pattern,
                                   std::strerror(errno)));
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mxg
