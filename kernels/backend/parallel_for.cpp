// Fork-join loop over independent work items (see parallel_for.hpp).
#include "kernels/backend/parallel_for.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mxg::host {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(std::int64_t n, int threads, const std::function<void(std::int64_t)>& body) {
  if (n <= 0) return;
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (std::int64_t i = next++; i < n && !failed; i = next++) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  const auto extra = static_cast<std::int64_t>(std::max(threads, 1)) - 1;
  std::vector<std::jthread> pool;
  pool.reserve(static_cast<std::size_t>(std::min(extra, n - 1)));
  for (std::int64_t t = 0; t < std::min(extra, n - 1); ++t) pool.emplace_back(worker);
  worker();
  pool.clear();  // joins
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace mxg::host
