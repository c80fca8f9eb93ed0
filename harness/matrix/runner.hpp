// `mxguard matrix`: runs every selected combination of every case instance on a backend, records
// each result as it finishes (results.jsonl), and writes the reports at the end — also when
// interrupted. Returns the process exit code (DESIGN.md "Exit codes").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/matrix/ggml/ggml_instance_run.hpp"
#include "harness/matrix/shard.hpp"
#include "kernels/backend/fused_moe.hpp"

namespace mxg::matrix {

struct RunOptions {
  std::vector<std::filesystem::path> cases;
  std::filesystem::path scenarios;       // cases/scenarios.json
  std::string backend = "host";           // "ggml" runs the ggml family's cases
  BackendOptions backend_options;
  ggml::GgmlRunSettings ggml;            // --backend ggml: stack mode (--prep-cmd)
  bool isolate = false;                  // run combinations in a child `mxguard kernel worker`
  std::filesystem::path self_exe;        // this binary, for isolation
  std::vector<std::string> filters;
  ShardSpec shard;                       // --shard K/N: this run's part of the filtered plan
  int jobs = 0;                          // 0: every core
  double max_memory_mib = 0;             // --max-memory: refuse instances estimated above it (0: available memory)
  std::vector<int> devices;              // --devices: one worker per GPU index (then jobs = devices.size())
  std::filesystem::path out_dir = "mxguard-out";
  bool resume = false;
  std::vector<std::uint64_t> seeds;      // overrides the cases' seeds when non-empty
  bool list = false;
  bool mutants = false;
  bool progress_tty = false;             // a live progress line (stderr is a terminal)
  std::vector<std::string> only_ids;     // --only-id: exactly these result ids (a replay)
  std::string write_problem_id;          // --write-problem: write this id's problem file, run nothing
  std::filesystem::path write_problem_out;  // where (default: the id's problem file name)
  std::string image;                     // --image: the container digest recorded in the reports
};

int run_matrix(const RunOptions& options);

}  // namespace mxg::matrix
