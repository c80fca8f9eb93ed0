// Fork-join over independent work items for the reference. Items write disjoint outputs, so the
// result never depends on how many workers ran them or in which order.
#pragma once

#include <cstdint>
#include <functional>

namespace mxg::ref {

// 0 -> the machine's hardware threads (at least 1); otherwise `requested` (must be >= 1).
int resolve_thread_count(int requested);

// Calls body(item, worker) for every item in [0, n) on min(threads, n) workers; worker is in
// [0, workers) so the body can use per-worker scratch buffers. Items are handed out from a shared
// counter in increasing order. The first exception thrown by a body is rethrown once all workers
// have stopped (the remaining items are skipped).
void for_each_item(std::int64_t n, int threads, const std::function<void(std::int64_t item, int worker)>& body);

}  // namespace mxg::ref
