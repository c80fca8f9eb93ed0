// Splits a layout transform's independent work items (experts, row blocks) over std::threads.
#pragma once

#include <cstdint>
#include <functional>

namespace mxg::layout {

// Threads a transform may use: 0 means every hardware thread. Small jobs run on the calling
// thread, since starting a thread costs more than copying a few hundred kilobytes.
struct Threads {
  unsigned count = 0;
};

// Calls body(begin, end) on contiguous chunks covering [0, items), at most one chunk per thread,
// and returns when all are done. `bytes` is the total data the job moves (decides whether threads
// are worth starting). `body` must not throw.
void parallel_for(std::int64_t items, std::int64_t bytes, Threads threads,
                  const std::function<void(std::int64_t begin, std::int64_t end)>& body);

}  // namespace mxg::layout
