// Upper bounds of numeric options whose work or memory grows with the value. Without them
// `preflight --tp 1e7` printed 812 MB and `matrix --jobs 100000` aborted creating threads.
#pragma once

#include <cmath>
#include <cstdint>

#include <CLI/CLI.hpp>

namespace mxg::cli {

// Tensor/expert-parallel sizes: real deployments use at most a few hundred GPUs per model instance.
inline constexpr std::int64_t kMaxParallel = 1024;
// Concurrent combinations in one matrix run (threads or worker processes).
inline constexpr int kMaxJobs = 256;

inline CLI::Validator parallel_size() { return CLI::Range(std::int64_t{1}, kMaxParallel); }

// A duration in seconds: finite (NaN and inf are refused) and > 0, or >= 0 when zero means "none".
// Large values are fine: deadlines saturate (kernels/common/seconds.hpp).
inline CLI::Validator seconds(bool zero_allowed = false) {
  return CLI::Validator(
      [zero_allowed](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v < 0 || (v == 0 && !zero_allowed)) {
          return zero_allowed ? "must be a finite number of seconds >= 0" : "must be a finite number of seconds > 0";
        }
        return "";
      },
      zero_allowed ? "SECONDS>=0" : "SECONDS>0");
}
inline CLI::Validator job_count() { return CLI::Range(0, kMaxJobs); }

}  // namespace mxg::cli
