// The current time as ISO 8601 UTC ("2026-11-25T09:54:41Z"), the timestamp format of every report.
#pragma once

#include <ctime>
#include <string>

namespace mxg {

inline std::string utc_now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace mxg
