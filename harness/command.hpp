// How a subcommand plugs into the `mxguard` CLI. Each file in harness/commands/ registers itself
// with a static CommandRegistration; main.cpp adds them to the app in `order`. The action set by
// the chosen subcommand returns the process exit code (mxg::exit_code).
#pragma once

#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

namespace mxg::cli {

using Action = std::function<int()>;
using AddCommand = std::function<void(CLI::App& app, Action& action)>;

struct RegisteredCommand {
  int order;
  AddCommand add;
};

std::vector<RegisteredCommand>& command_registry();

struct CommandRegistration {
  CommandRegistration(int order, AddCommand add) { command_registry().push_back({order, std::move(add)}); }
};

}  // namespace mxg::cli
