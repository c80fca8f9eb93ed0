// `mxguard diagnose`: layout forensics. This file only creates the parent command; its modes add
// themselves as children of it from their own files (diagnose_weights.cpp, diagnose_output.cpp),
// after this one in main.cpp's command table.
#include <CLI/CLI.hpp>

#include "harness/command.hpp"

namespace mxg::cli {

void add_diagnose_command(CLI::App& app, Action& /*action*/) {
  auto* cmd = app.add_subcommand(
      "diagnose",
      "Layout forensics: name the transform chain (and the bug) behind dumped tensors or a wrong layer output");
  cmd->footer(
      "Examples:\n"
      "  mxguard diagnose weights --checkpoint gpt-oss-120b/ --layer 3 --tensor gate_up_proj_blocks \\\n"
      "      --dump l3-tp1.safetensors --gate-mode separated --is-shuffled false\n"
      "  mxguard diagnose output --checkpoint gpt-oss-20b/ --layer 3 --hidden h.safetensors --observed y.safetensors\n"
      "Dumps come from ci/tools/dump_moe_weights.py, run inside the serving process (its --help says how).\n"
      "Exit codes: 0 healthy / exact and consistent, 1 the named bug or no explanation, 2 bad input.");
  cmd->require_subcommand(1);
}

}  // namespace mxg::cli
