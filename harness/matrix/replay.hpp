// Replaying one combination: the command line that reruns it (printed after every non-PASS result in
// summary.md) and `matrix --write-problem ID`, which writes that combination's problem file and the
// reference output it is judged against, so the kernel can be run on it by hand or under a debugger.
#pragma once

#include <filesystem>
#include <string>

#include "harness/matrix/instance.hpp"
#include "harness/matrix/runner.hpp"

namespace mxg::matrix {

// "mxguard matrix --cases … --backend … [kernel options] [--seed …] --only-id" (the id is appended per
// result): every option of this run that changes what a combination computes, shell-quoted; paths
// under the working directory are written relative to it.
std::string replay_command_prefix(const RunOptions& o);

// Writes `combo` of `instance` as a problem file to `out` (the device buffers with this combination's
// is_shuffled and gate mode, exactly what the backend would get) and the reference output beside it
// (reference_path_for(out), tensor "y"). Prints both paths and the commands that run and judge it.
// `convention`: the run's --pad-convention (how the stated pads are prepared and judged).
void write_combination_problem(const Instance& instance, const Combination& combo, const std::filesystem::path& out,
                               PadConvention convention);

// "dir/x.safetensors" -> "dir/x.reference.safetensors"; any other name gets ".reference.safetensors" appended.
std::filesystem::path reference_path_for(const std::filesystem::path& problem);

}  // namespace mxg::matrix
