// How a subcommand plugs into the `mxguard` CLI: each file in harness/commands/ defines one
// add_<name>_command that adds its subcommand (options, help, examples) to the app and, when that
// subcommand is chosen, sets the action. main.cpp calls them in the order of its command table,
// which is also the order of `mxguard --help`. The action returns the process exit code
// (mxg::exit_code).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace mxg::cli {

using Action = std::function<int()>;
using AddCommand = void (*)(CLI::App& app, Action& action);

// One per file in harness/commands/. A child command (layout ggml-convert, diagnose weights/output)
// finds its parent with app.get_subcommand, so it comes after the parent in the table.
void add_layout_command(CLI::App& app, Action& action);
void add_layout_ggml_convert_command(CLI::App& app, Action& action);
void add_reference_command(CLI::App& app, Action& action);
void add_compare_command(CLI::App& app, Action& action);
void add_kernel_command(CLI::App& app, Action& action);
void add_matrix_command(CLI::App& app, Action& action);
void add_merge_command(CLI::App& app, Action& action);
void add_probe_command(CLI::App& app, Action& action);      // built with libcurl (MXG_HAVE_PROBE)
void add_standin_command(CLI::App& app, Action& action);    // built with cpp-httplib (MXG_HAVE_STANDIN)
void add_preflight_command(CLI::App& app, Action& action);
void add_diagnose_command(CLI::App& app, Action& action);
void add_diagnose_weights_command(CLI::App& app, Action& action);
void add_diagnose_output_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);

}  // namespace mxg::cli
