// Upper bounds of numeric options whose work or memory grows with the value. Without them
// `preflight --tp 1e7` printed 812 MB and `matrix --jobs 100000` aborted creating threads.
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace mxg::cli {

// Tensor/expert-parallel sizes: real deployments use at most a few hundred GPUs per model instance.
inline constexpr std::int64_t kMaxParallel = 1024;
// Concurrent combinations in one matrix run (threads or worker processes).
inline constexpr int kMaxJobs = 256;

inline CLI::Validator parallel_size() { return CLI::Range(std::int64_t{1}, kMaxParallel); }
inline CLI::Validator job_count() { return CLI::Range(0, kMaxJobs); }

}  // namespace mxg::cli
