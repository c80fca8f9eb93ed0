// Writing a file so that readers never see it half-written: the bytes go to DEST.tmp-<pid>
// beside the destination, which is renamed over DEST only once everything is written.
#pragma once

#include <cstddef>
#include <filesystem>

namespace mxg {

class AtomicFileWriter {
 public:
  // Creates the temporary file; InputError naming DEST and the temporary on failure.
  explicit AtomicFileWriter(const std::filesystem::path& dest);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFileWriter();

  void write(const void* data, std::size_t n);
  // Closes and renames the temporary file into place.
  void commit();

 private:
  [[noreturn]] void fail(int err, const char* what) const;

  std::filesystem::path dest_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace mxg
