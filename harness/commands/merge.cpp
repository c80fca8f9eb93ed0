// `mxguard merge`: the shards of one matrix run (`mxguard matrix --shard K/N` in N CI jobs) as one
// run, with duplicates refused and gaps reported (harness/matrix/merge.hpp).
#include <memory>
#include <string>
#include <vector>

#include "harness/command.hpp"
#include "harness/matrix/merge.hpp"

namespace mxg::cli {

void add_merge_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "merge",
      "Merge the output folders of a sharded matrix run (mxguard matrix --shard K/N, one CI job per part)\n"
      "into one run: results.jsonl.gz is the union of their results logs by id, and report.json, run.json,\n"
      "junit.xml, report.html and summary.md are written again from it.\n"
      "  duplicate  the same id in two inputs: counted once when the outcome agrees, refused (exit 2) when not\n"
      "  gap        a part K of N missing, a part holding fewer results than it planned (an interrupted or\n"
      "             killed job), or parts of different splits: listed, and exit 3 unless --allow-gaps\n"
      "Exit: the merged run's (0 pass, 1 FAIL or BLIND, 3 only ERRORs), 3 on a gap, 2 bad input.");
  auto opts = std::make_shared<matrix::MergeOptions>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("inputs", *inputs,
                  "Run folders (results.jsonl or results.jsonl.gz, run.json), or folders holding them at any\n"
                  "depth (downloaded CI artifacts)")
      ->required();
  auto out = std::make_shared<std::string>("mxguard-merged");
  cmd->add_option("--out", *out, "Output folder of the merged run")->capture_default_str();
  cmd->add_flag("--allow-gaps", opts->allow_gaps,
                "Report gaps but let the merged verdicts decide the exit code (a night with a lost shard\n"
                "still shows what ran)");
  cmd->footer(
      "Examples:\n"
      "  mxguard merge shard-1 shard-2 --out merged        # the outputs of --shard 1/2 and --shard 2/2\n"
      "  mxguard merge artifacts/ --out merged --allow-gaps   # every run folder below artifacts/");
  cmd->callback([&action, opts, inputs, out]() {
    action = [opts, inputs, out]() {
      matrix::MergeOptions o = *opts;
      for (const auto& in : *inputs) o.inputs.emplace_back(in);
      o.out_dir = *out;
      return matrix::merge_runs(o);
    };
  });
}

}  // namespace mxg::cli
