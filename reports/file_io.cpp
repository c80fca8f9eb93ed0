// Durable file output shared by the report writers: whole-file atomic replace, append, read.
#include "reports/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "kernels/common/regular_file.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::report {

namespace {
std::string errno_text() { return std::strerror(errno); }

// Closes a descriptor on scope exit so every error path releases it.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result: close() can be where a deferred write error surfaces.
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

int open_or_throw(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw InputError(fmt::format("{}: cannot open for writing: {}", path.string(), errno_text()));
  }
  return fd;
}
}  // namespace

void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InfraError(fmt::format("{}: write failed: {}", path.string(), errno_text()));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void sync_fd(int fd, const std::filesystem::path& path) {
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    throw InfraError(fmt::format("{}: fsync failed: {}", path.string(), errno_text()));
  }
}

void sync_parent_dir(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  // Some filesystems (e.g. certain network mounts) reject directory fsync; the data itself is
  // already synced, so this is only a strengthening and its failure is not an error.
  (void)::fsync(fd);
  ::close(fd);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view data) {
  check_replaceable_output(path, path.string());
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp.{}", ::getpid());
  {
    FdGuard fd(open_or_throw(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    try {
      write_all(fd.get(), data, tmp);
      sync_fd(fd.get(), tmp);
      if (fd.close_now() != 0) {
        throw InfraError(fmt::format("{}: close failed: {}", tmp.string(), errno_text()));
      }
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw InputError(fmt::format("{}: cannot replace with {}: {}", path.string(), tmp.string(), why));
  }
  sync_parent_dir(path);
}

void append_to_file(const std::filesystem::path& path, std::string_view data) {
  FdGuard fd(open_or_throw(path, O_WRONLY | O_CREAT | O_APPEND));
  write_all(fd.get(), data, path);
  sync_fd(fd.get(), path);
  if (fd.close_now() != 0) {
    throw InfraError(fmt::format("{}: close failed: {}", path.string(), errno_text()));
  }
}

std::string read_file(const std::filesystem::path& path) {
  // Regular files only: a directory, a FIFO without a writer or a device is refused at once.
  return read_regular_file(path, path.string(), std::size_t{4} << 30);
}

}  // namespace mxg::report
