// std::thread fork-join with a shared item counter and first-exception propagation.
#include "reference/worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mxg::ref {

int resolve_thread_count(int requested) {
  if (requested < 0) throw std::invalid_argument("thread count must be >= 0");
  if (requested > 0) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

void for_each_item(std::int64_t n, int threads, const std::function<void(std::int64_t, int)>& body) {
  if (n <= 0) return;
  const int workers = static_cast<int>(std::min<std::int64_t>(resolve_thread_count(threads), n));
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&](int worker) {
    for (std::int64_t item = next++; item < n && !failed; item = next++) {
      try {
        body(item, worker);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::jthread> pool;
  pool.reserve(static_cast<std::size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);  // the caller is worker 0
  pool.clear();  // joins
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace mxg::ref
