// The `external` backend (see external_backend.hpp and EXTERNAL_PROTOCOL.md): write the problem
// file into a fresh temporary directory, run the command (from the current directory) under a timeout,
// read y back.
#include "kernels/backend/external_backend.hpp"

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "kernels/backend/builtin_backends.hpp"
#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/problem_name.hpp"
#include "kernels/backend/subprocess.hpp"
#include "kernels/backend/temp_dir.hpp"
#include "kernels/backend/worker_backend.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg {
namespace {

constexpr int kTailLines = 20;

std::string output_excerpt(const proc::CommandResult& r) {
  if (!r.stderr_tail.empty()) {
    return fmt::format("last {} lines of its stderr:\n{}", kTailLines, proc::last_lines(r.stderr_tail, kTailLines));
  }
  if (!r.stdout_tail.empty()) {
    return fmt::format("stderr was empty; last {} lines of its stdout:\n{}", kTailLines,
                       proc::last_lines(r.stdout_tail, kTailLines));
  }
  return "it printed nothing";
}

class ExternalBackend final : public FusedMoeBackend {
 public:
  ExternalBackend(std::string command_template, double timeout_seconds, std::optional<int> device)
      : template_(std::move(command_template)), timeout_seconds_(timeout_seconds) {
    // --devices: the command sees only its GPU. Exported ahead of the whole command line, so a
    // compound command ('cp {in} keep/ && python3 ...') gets it in every part.
    if (device) {
      for (const auto& [name, value] : device_environment(*device)) prefix_ += fmt::format("export {}={}; ", name, proc::shell_quote(value));
    }
  }

  BackendInfo info() const override {
    std::lock_guard lock(mu_);
    return {"external", "external command", template_, versions_};
  }

  Tensor run(const FusedMoeProblem& problem) override { return run_combination(problem, ""); }

  // The problem file is named by the combination id, so `cp {in} keep/` keeps one file per combination.
  Tensor run_combination(const FusedMoeProblem& problem, std::string_view id) override {
    validate_problem(problem);
    TempDir dir("mxguard-external");
    const auto in = dir.path() / problem_file_name(id);
    const auto out = dir.path() / "y.safetensors";
    write_problem(in, problem);
    const std::string command = prefix_ + substitute_command(template_, in.string(), out.string());
    // The command runs where mxguard was started, so relative paths in --kernel-cmd (the documented
    // 'python3 ci/adapters/aiter_fused_moe.py {in} {out}') resolve as the user typed them.
    const proc::CommandResult r = proc::run_shell(command, std::filesystem::current_path(), timeout_seconds_);
    if (!r.ok()) {
      throw InfraError(fmt::format("external command failed ({}): {}\n{}", r.status(), command, output_excerpt(r)));
    }
    if (!std::filesystem::exists(out)) {
      throw InfraError(fmt::format("external command exited 0 but wrote no {{out}} file {}: {}\n{}", out.string(),
                                   command, output_excerpt(r)));
    }
    try {
      Tensor y = read_output(out, problem.tokens(), problem.hidden_size());
      note_versions(out);
      return y;
    } catch (const InputError& e) {
      throw InfraError(fmt::format("external command wrote a malformed output: {}\ncommand: {}\n{}", e.what(), command,
                                   output_excerpt(r)));
    }
  }

 private:
  // Protocol v1 has no handshake: an adapter states its kernel's and stack's versions in the output's
  // metadata ("version.<library>", ci/adapters/mxguard_adapter.py), kept for the run's report.
  void note_versions(const std::filesystem::path& out) {
    const auto file = SafetensorsFile::open(out);
    std::lock_guard lock(mu_);
    for (const auto& [key, value] : file.metadata()) {
      if (key.starts_with("version.") && key.size() > 8) versions_[key.substr(8)] = value;
    }
  }

  std::string template_;
  double timeout_seconds_;
  std::string prefix_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> versions_;
};

}  // namespace

std::string substitute_command(std::string_view command_template, std::string_view in_path, std::string_view out_path) {
  constexpr std::string_view kIn = "{in}", kOut = "{out}";
  if (command_template.find(kIn) == std::string_view::npos || command_template.find(kOut) == std::string_view::npos) {
    throw InputError(fmt::format("--kernel-cmd: '{}' must contain both {{in}} and {{out}}", command_template));
  }
  const std::string in = proc::shell_quote(in_path), out = proc::shell_quote(out_path);
  std::string result;
  for (std::size_t i = 0; i < command_template.size();) {
    if (command_template.substr(i, kIn.size()) == kIn) {
      result += in;
      i += kIn.size();
    } else if (command_template.substr(i, kOut.size()) == kOut) {
      result += out;
      i += kOut.size();
    } else {
      result += command_template[i++];
    }
  }
  return result;
}

BackendRegistration external_backend_registration() {
  return {"external",
          "runs --kernel-cmd (a process per problem file) or --kernel-worker (a persistent worker), e.g. an AITER "
          "adapter; see kernels/backend/EXTERNAL_PROTOCOL.md",
          [](const BackendOptions& options) -> std::unique_ptr<FusedMoeBackend> {
            if (!options.kernel_cmd.empty() && !options.kernel_worker.empty()) {
              throw InputError("--kernel-worker: give either --kernel-cmd (a process per combination) or "
                               "--kernel-worker (one persistent worker), not both");
            }
            if (!options.kernel_worker.empty()) {
              WorkerBackendSettings settings;
              settings.command = options.kernel_worker;
              settings.timeout_seconds = options.timeout_seconds;
              settings.rss_limit_bytes = options.worker_rss_limit_bytes;
              settings.device = options.device;
              return make_worker_backend(std::move(settings));
            }
            if (options.kernel_cmd.empty()) {
              throw InputError("--kernel-cmd: the external backend needs a command with {in} and {out} "
                               "(or --kernel-worker CMD, a persistent worker)");
            }
            substitute_command(options.kernel_cmd, "", "");  // rejects a template without placeholders now
            if (!(options.timeout_seconds > 0)) {
              throw InputError(fmt::format("--timeout: {} s, expected a positive number", options.timeout_seconds));
            }
            return std::make_unique<ExternalBackend>(options.kernel_cmd, options.timeout_seconds, options.device);
          },
          Isolation::Inherent};
}

}  // namespace mxg
