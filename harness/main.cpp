// Entry point of the `mxguard` CLI: parses the command line, runs the chosen subcommand and maps
// errors to exit codes (2 usage/input, 3 infrastructure), one line on stderr each.
#include <algorithm>
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "harness/command.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::cli {
std::vector<RegisteredCommand>& command_registry() {
  static std::vector<RegisteredCommand> registry;
  return registry;
}
}  // namespace mxg::cli

int main(int argc, char** argv) {
  CLI::App app{
      "mxguard: accuracy-regression harness for MXFP4 fused-MoE kernels.\n"
      "Runs the kernels under every combination of gate mode x is_shuffled x weight preparation x\n"
      "padding x shape against an independent Eigen reference.\n"
      "Exit codes: 0 pass, 1 regression (FAIL/BLIND), 2 usage or input error, 3 infrastructure error.",
      "mxguard"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mxguard 0.1.0");
  mxg::cli::Action action;
  auto commands = mxg::cli::command_registry();
  std::ranges::sort(commands, {}, &mxg::cli::RegisteredCommand::order);
  for (const auto& c : commands) c.add(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : mxg::exit_code::kUsage;
  }
  try {
    return action ? action() : mxg::exit_code::kUsage;
  } catch (const mxg::InputError& e) {
    fmt::print(stderr, "mxguard: error: {}\n", e.what());
    return mxg::exit_code::kUsage;
  } catch (const CLI::ParseError& e) {  // raised by commands that validate option combinations
    fmt::print(stderr, "mxguard: error: {}\n", e.what());
    return mxg::exit_code::kUsage;
  } catch (const mxg::InfraError& e) {
    fmt::print(stderr, "mxguard: infrastructure error: {}\n", e.what());
    return mxg::exit_code::kInfra;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mxguard: internal error: {}\n", e.what());
    return mxg::exit_code::kInfra;
  }
}
