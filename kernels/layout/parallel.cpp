// std::thread fan-out for the layout transforms.
#include "kernels/layout/parallel.hpp"

#include <algorithm>
#include <thread>
#include <vector>

namespace mxg::layout {

namespace {
// Below this a second thread does not pay for its start-up (about 10-20 us).
constexpr std::int64_t kMinBytesPerThread = std::int64_t{1} << 20;
}  // namespace

void parallel_for(std::int64_t items, std::int64_t bytes, Threads threads,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (items <= 0) return;
  std::int64_t n = threads.count != 0 ? threads.count : std::max(1u, std::thread::hardware_concurrency());
  n = std::min({n, items, std::max<std::int64_t>(1, bytes / kMinBytesPerThread)});
  if (n <= 1) {
    body(0, items);
    return;
  }
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<std::size_t>(n - 1));
  const std::int64_t chunk = items / n, extra = items % n;
  std::int64_t begin = 0;
  for (std::int64_t t = 0; t < n; ++t) {
    const std::int64_t end = begin + chunk + (t < extra ? 1 : 0);
    if (t + 1 == n) {
      body(begin, end);  // the calling thread takes the last chunk
    } else {
      workers.emplace_back([&body, begin, end] { body(begin, end); });
    }
    begin = end;
  }
}

}  // namespace mxg::layout
