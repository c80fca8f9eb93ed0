// mmap of a whole file; the descriptor is closed at once because the mapping outlives it.
#include "kernels/tensor/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what) {
  throw InputError(fmt::format("{}: {}", path.string(), what));
}

}  // namespace

MappedFile map_file(const std::filesystem::path& path) {
  // O_NONBLOCK: a FIFO without a writer must be refused below, not block here.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(path, fmt::format("cannot stat: {}", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  MappedFile m;
  if (size == 0) {  // mmap refuses length 0; an empty file is an empty span
    ::close(fd);
    return m;
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (addr == MAP_FAILED) fail(path, fmt::format("cannot map {} bytes: {}", size, std::strerror(err)));
  m.keepalive = std::shared_ptr<const void>(addr, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  m.data = static_cast<const std::byte*>(addr);
  m.size = size;
  return m;
}

}  // namespace mxg
