// `mxguard merge`: the runs of one sharded matrix (`--shard K/N` in N CI jobs) as one run. The
// results logs are united by id; the same id twice with another outcome is refused, shards or
// combinations missing from the whole are gaps; the reports are written again from the union.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mxg::matrix {

struct MergeOptions {
  std::vector<std::filesystem::path> inputs;  // run folders, or folders holding them (downloaded artifacts)
  std::filesystem::path out_dir = "mxguard-merged";
  bool allow_gaps = false;  // a gap is reported but does not decide the exit code
};

// Exit code: the merged run's (0, 1 regression, 3 only errors), except that a gap gives 3 unless
// allow_gaps, and a conflicting duplicate, an input without a results log or shards of different
// runs are input errors (mxg::InputError, exit 2) before anything is written.
int merge_runs(const MergeOptions& options);

}  // namespace mxg::matrix
