// One run per output folder. Two matrix runs on the same --out used to delete each other's
// results.jsonl lines (both exiting 0); two probes duplicated questions. The lock is an flock(2) on
// OUT/.mxguard.lock, released by the kernel when the process ends however it ends (no stale locks);
// the file holds the holder's pid so that the refusal can name it.
#pragma once

#include <filesystem>
#include <string_view>

namespace mxg::report {

class OutDirLock {
 public:
  // Creates `dir` if needed and takes the lock. Held by another process -> mxg::InputError
  // "<option> <dir>: another mxguard run (pid N) is writing to this folder; ...". A folder that
  // cannot be created (a file is in the way, no permission) -> mxg::InputError naming the option.
  OutDirLock(const std::filesystem::path& dir, std::string_view option);
  ~OutDirLock();
  OutDirLock(const OutDirLock&) = delete;
  OutDirLock& operator=(const OutDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mxg::report
