// flock-based output-folder lock (out_lock.hpp).
#include "reports/out_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::report {

namespace {

constexpr const char* kLockName = ".mxguard.lock";

std::string holder_of(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown pid" : "pid " + pid;
}

}  // namespace

OutDirLock::OutDirLock(const std::filesystem::path& dir, std::string_view option) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw InputError(fmt::format("{} {}: cannot use as the output folder: {}", option, dir.string(),
                                 ec ? ec.message() : "exists and is not a directory"));
  }
  const std::filesystem::path lock_path = dir / kLockName;
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd_ < 0) {
    throw InputError(fmt::format("{} {}: cannot create {}: {}", option, dir.string(), kLockName, std::strerror(errno)));
  }
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? holder_of(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw InputError(fmt::format("{} {}: another mxguard run ({}) is writing to this folder; wait for it to "
                                   "finish or choose another {}",
                                   option, dir.string(), holder, option));
    }
    throw InputError(fmt::format("{} {}: cannot lock {}: {}", option, dir.string(), kLockName, std::strerror(err)));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

OutDirLock::~OutDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace mxg::report
