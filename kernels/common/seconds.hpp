// Seconds (a user's --timeout, --wait-ready, a server's Retry-After) to a clock duration without
// overflow: steady_clock counts int64 nanoseconds, so 1e10 s wrapped and acted as zero. Values
// beyond kMaxSeconds (about 31 years, i.e. "forever") saturate; NaN and negatives give zero.
#pragma once

#include <algorithm>
#include <chrono>

namespace mxg {

inline constexpr double kMaxSeconds = 1e9;

inline std::chrono::steady_clock::duration seconds_to_duration(double s) {
  if (!(s > 0)) return std::chrono::steady_clock::duration::zero();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(std::min(s, kMaxSeconds)));
}

}  // namespace mxg
