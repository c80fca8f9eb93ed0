// A minimal fork-join loop for the host backend. Work items are independent and each writes its
// own outputs, so results never depend on how many threads ran them.
#pragma once

#include <cstdint>
#include <functional>

namespace mxg::host {

// 0 -> the machine's hardware threads (at least 1); otherwise `requested` (must be >= 1).
int resolve_threads(int requested);

// Runs body(i) for every i in [0, n) on up to `threads` threads, the caller's among them.
// Indices are handed out from a shared counter; the first exception thrown by any body is
// rethrown after all threads have stopped.
void parallel_for(std::int64_t n, int threads, const std::function<void(std::int64_t)>& body);

}  // namespace mxg::host
