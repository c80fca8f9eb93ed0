// gzip reading and writing of run logs (gzip_file.hpp).
#include "reports/gzip_file.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"
#include "reports/file_io.hpp"

namespace mxg::report {
namespace {

constexpr unsigned kChunk = 1u << 16;

std::string gz_reason(gzFile f) {
  int code = 0;
  const char* text = gzerror(f, &code);
  return code == Z_ERRNO ? std::strerror(errno) : (text ? text : "unknown zlib error");
}

std::filesystem::path temp_sibling(const std::filesystem::path& dst) {
  return dst.parent_path() / ("." + dst.filename().string() + ".tmp");
}

// Opens `tmp` for writing, hands zlib a duplicate descriptor (gzclose closes its own), and after
// `fill` fsyncs and renames over `dst`. `fill` writes through the gzFile.
void write_gzip_atomically(const std::filesystem::path& dst, const std::function<void(gzFile)>& fill) {
  const auto tmp = temp_sibling(dst);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw InfraError(fmt::format("{}: cannot create: {}", tmp.string(), std::strerror(errno)));
  gzFile gz = gzdopen(::dup(fd), "wb6");
  if (gz == nullptr) {
    ::close(fd);
    throw InfraError(fmt::format("{}: zlib cannot open it for writing", tmp.string()));
  }
  try {
    fill(gz);
  } catch (...) {
    gzclose(gz);
    ::close(fd);
    std::filesystem::remove(tmp);
    throw;
  }
  const int closed = gzclose(gz);
  if (closed != Z_OK) {
    ::close(fd);
    throw InfraError(fmt::format("{}: finishing the gzip stream failed (zlib {})", tmp.string(), closed));
  }
  sync_fd(fd, tmp);
  ::close(fd);
  std::filesystem::rename(tmp, dst);
  sync_parent_dir(dst);
}

}  // namespace

// The reading side's gzFile, closed on every path out (a chunk callback that throws included: the
// run logs' readers throw InputError on a malformed line).
class GzReader {
 public:
  explicit GzReader(gzFile f) : f_(f) {}
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() {
    if (f_ != nullptr) gzclose_r(f_);
  }
  gzFile get() const { return f_; }
  int close() { return gzclose_r(std::exchange(f_, nullptr)); }

 private:
  gzFile f_;
};

void read_maybe_gzip(const std::filesystem::path& path, const std::function<void(std::string_view)>& chunk) {
  // Opened as every input is (no blocking on a FIFO, regular files only), then handed to zlib, which
  // reads a file without the gzip magic as it is ("transparent" mode) and closes the descriptor.
  const int fd = open_regular_file(path, path.string());
  gzFile raw = gzdopen(fd, "rb");
  if (raw == nullptr) {
    ::close(fd);
    throw InputError(fmt::format("{}: cannot open: zlib refused the descriptor", path.string()));
  }
  GzReader f(raw);
  gzbuffer(f.get(), kChunk);
  std::string buffer(kChunk, '\0');
  for (;;) {
    const int n = gzread(f.get(), buffer.data(), kChunk);
    if (n < 0) throw InputError(fmt::format("{}: cannot read: {}", path.string(), gz_reason(f.get())));
    if (n == 0) break;
    chunk(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
  // A gzip stream cut short reads as end of file; gzclose_r reports it as Z_BUF_ERROR.
  const int closed = f.close();
  if (closed == Z_BUF_ERROR) throw InputError(fmt::format("{}: truncated gzip stream", path.string()));
  if (closed != Z_OK) throw InputError(fmt::format("{}: corrupt gzip stream (zlib {})", path.string(), closed));
}

void write_gzip(const std::filesystem::path& dst,
                const std::function<void(const std::function<void(std::string_view)>& emit)>& produce) {
  write_gzip_atomically(dst, [&](gzFile gz) {
    produce([&](std::string_view piece) {
      if (piece.empty()) return;
      if (gzwrite(gz, piece.data(), static_cast<unsigned>(piece.size())) != static_cast<int>(piece.size())) {
        throw InfraError(fmt::format("{}: compressing failed: {}", dst.string(), gz_reason(gz)));
      }
    });
  });
}

void gzip_replace(const std::filesystem::path& src, const std::filesystem::path& dst) {
  write_gzip(dst, [&](const std::function<void(std::string_view)>& emit) { read_maybe_gzip(src, emit); });
  std::filesystem::remove(src);
}

void gunzip_copy(const std::filesystem::path& src, const std::filesystem::path& dst) {
  std::string bytes;
  read_maybe_gzip(src, [&](std::string_view piece) { bytes.append(piece); });
  write_file_atomically(dst, bytes);
}

}  // namespace mxg::report
