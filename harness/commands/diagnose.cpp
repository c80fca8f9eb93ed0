// `mxguard diagnose`: layout forensics. This file only creates the parent command; its modes
// register themselves as children of it from their own files (diagnose_weights.cpp,
// diagnose_output.cpp), with a registration order after this one.
#include <CLI/CLI.hpp>

#include "harness/command.hpp"

namespace mxg::cli {
namespace {

void add_diagnose_command(CLI::App& app, Action& /*action*/) {
  auto* cmd = app.add_subcommand(
      "diagnose",
      "Layout forensics: name the transform chain (and the bug) behind dumped tensors or a wrong layer output");
  cmd->footer(
      "Modes:\n"
      "  weights  compare a checkpoint tensor with what the serving process holds in memory (a dump) and\n"
      "           print the chain of known transforms that maps one to the other\n"
      "  output   when only one layer's wrong output is at hand, run every matrix combination on the host\n"
      "           backend and rank them by how well they reproduce it\n"
      "ci/tools/dump_moe_weights.py makes the dumps (run it inside the serving process).");
  cmd->require_subcommand(1);
}

const CommandRegistration reg{90, add_diagnose_command};

}  // namespace
}  // namespace mxg::cli
