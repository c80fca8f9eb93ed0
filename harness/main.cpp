// Entry point of the `mxguard` CLI: parses the command line, runs the chosen subcommand and maps
// errors to exit codes (2 usage/input, 3 infrastructure), one line on stderr each.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <regex>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "harness/command.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/version.hpp"

namespace mxg::cli {
namespace {

// Every subcommand, in the order `mxguard --help` lists them; a child after its parent.
constexpr std::array kCommands = {
    add_layout_command,   add_layout_ggml_convert_command, add_reference_command, add_compare_command,
    add_kernel_command,   add_matrix_command,              add_merge_command,
#if MXG_HAVE_PROBE
    add_probe_command,
#endif
#if MXG_HAVE_STANDIN
    add_standin_command,
#endif
    add_preflight_command, add_diagnose_command, add_diagnose_weights_command, add_diagnose_output_command,
    add_report_command,
};

}  // namespace
}  // namespace mxg::cli

namespace {

// `probe --bisect` is driven by `git bisect run`, which reads 0 as good, 1-124/126-127 as bad, 125 as
// skip and >= 128 as abort: everything that is not a verdict about the commit must exit 129.
bool is_bisect_run(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "probe") return false;
  for (int i = 2; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--bisect") return true;
  }
  return false;
}

extern "C" void on_crash_in_bisect(int sig) {
  static const char kMsg[] = "mxguard: crashed (signal); exit 129 so that git bisect aborts\n";
  (void)!::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  ::_exit(mxg::exit_code::kBisectAbort);
  (void)sig;
}

void install_bisect_crash_handlers() {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_crash_in_bisect);
}

// CLI11 messages in one line: its bounds are printed with every digit (a 309-digit double maximum),
// shortened here to the %g form; newlines become "; ".
std::string one_line(std::string text) {
  static const std::regex kLongNumber("[0-9]{16,}(\\.[0-9]+)?");
  std::string out;
  auto it = std::sregex_iterator(text.begin(), text.end(), kLongNumber);
  std::size_t last = 0;
  for (; it != std::sregex_iterator(); ++it) {
    out += text.substr(last, static_cast<std::size_t>(it->position()) - last);
    out += fmt::format("{:g}", std::strtod(it->str().c_str(), nullptr));
    last = static_cast<std::size_t>(it->position() + it->length());
  }
  out += text.substr(last);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (std::size_t p; (p = out.find('\n')) != std::string::npos;) out.replace(p, 1, "; ");
  return out;
}

int run(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
  const bool bisect = is_bisect_run(argc, argv);
  if (bisect) install_bisect_crash_handlers();
  const int rc = run(argc, argv);
  // In a bisect, only the probe's own verdict codes (0, 1, 125, 129, 130 -> 129) reach git.
  if (bisect && (rc == mxg::exit_code::kUsage || rc == mxg::exit_code::kInfra)) return mxg::exit_code::kBisectAbort;
  return rc;
}

namespace {

int run(int argc, char** argv) {
  CLI::App app{
      "mxguard: accuracy-regression harness for MXFP4 fused-MoE kernels.\n"
      "Runs the kernels under every combination of gate mode x is_shuffled x weight preparation x\n"
      "padding x shape against an independent Eigen reference.\n"
      "Exit codes: 0 pass, 1 regression (FAIL/BLIND), 2 usage or input error, 3 infrastructure error.",
      "mxguard"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mxguard " + std::string(mxg::mxguard_version()));
  mxg::cli::Action action;
  for (const mxg::cli::AddCommand add : mxg::cli::kCommands) add(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "mxguard: error: {} (see --help)\n", one_line(e.what()));
    return mxg::exit_code::kUsage;
  }
  try {
    return action ? action() : mxg::exit_code::kUsage;
  } catch (const mxg::InputError& e) {
    fmt::print(stderr, "mxguard: error: {}\n", e.what());
    return mxg::exit_code::kUsage;
  } catch (const CLI::ParseError& e) {  // raised by commands that validate option combinations
    fmt::print(stderr, "mxguard: error: {}\n", one_line(e.what()));
    return mxg::exit_code::kUsage;
  } catch (const std::filesystem::filesystem_error& e) {
    // A user path that cannot be used (exists as a file, unwritable, unreadable): input, not internal.
    std::string paths = e.path1().string();
    if (!e.path2().empty()) paths += ", " + e.path2().string();
    fmt::print(stderr, "mxguard: error: {}: {}\n", paths.empty() ? "path" : paths, e.code().message());
    return mxg::exit_code::kUsage;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "mxguard: error: out of memory: the input needs more memory than this machine gives "
                       "(reduce the shapes or tokens)\n");
    return mxg::exit_code::kUsage;
  } catch (const mxg::InfraError& e) {
    fmt::print(stderr, "mxguard: infrastructure error: {}\n", e.what());
    return mxg::exit_code::kInfra;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mxguard: internal error: {}\n", e.what());
    return mxg::exit_code::kInfra;
  }
}

}  // namespace
