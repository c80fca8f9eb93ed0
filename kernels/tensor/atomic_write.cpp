// Temporary file + rename; errno is captured by each caller before anything can overwrite it.
#include "kernels/tensor/atomic_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"

namespace mxg {

AtomicFileWriter::AtomicFileWriter(const std::filesystem::path& dest)
    : dest_(dest), tmp_(dest.string() + fmt::format(".tmp-{}", ::getpid())) {
  check_replaceable_output(dest_, dest_.string());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(errno, "cannot create temporary file");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::write(const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(w < 0 ? errno : EIO, "cannot write temporary file");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFileWriter::commit() {
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(errno, "cannot close temporary file");
  if (::rename(tmp_.c_str(), dest_.c_str()) != 0) fail(errno, "cannot rename temporary file into place");
  committed_ = true;
}

void AtomicFileWriter::fail(int err, const char* what) const {
  throw InputError(fmt::format("{}: {} {}: {}", dest_.string(), what, tmp_.string(), std::strerror(err)));
}

}  // namespace mxg
