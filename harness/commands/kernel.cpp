// `mxguard kernel run`, `kernel worker` and `kernel list`: run one fused-MoE problem file through a
// registered backend (host, external, hip) and write y; serve a backend as a persistent worker
// (external protocol v2); list the backends.
#include <chrono>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "kernels/common/version.hpp"
#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "kernels/backend/fused_moe.hpp"
#include "kernels/backend/kernel_mutants.hpp"
#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/worker_loop.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::cli {
namespace {

struct KernelRunOptions {
  std::string backend = "host";
  std::string in, out;
  std::optional<std::string> gate_mode, is_shuffled;
  std::optional<std::int64_t> hidden_pad, intermediate_pad;
  std::string kernel_cmd;
  std::string kernel_worker;
  double timeout = 600;
  int threads = 0;
  std::string pad_convention = "exact";
  std::string kernel_mutant;
};

struct KernelWorkerOptions {
  std::string backend = "host";
  int threads = 0;
  std::string pad_convention = "exact";
  std::string kernel_mutant;
};

// --pad-convention / --kernel-mutant into backend options (a mutant exists in the host kernel only).
void set_kernel_model(BackendOptions& options, const std::string& backend, const std::string& convention,
                      const std::string& mutant) {
  options.pad_convention = parse_pad_convention(convention);
  if (!mutant.empty() && backend != "host") {
    throw InputError(fmt::format("--kernel-mutant: built into the host backend's kernel only, not --backend {}",
                                 backend));
  }
  options.kernel_mutant = mutant;
}

// Adds --pad-convention and --kernel-mutant to a kernel subcommand.
void add_kernel_model_options(CLI::App* cmd, std::string& convention, std::string& mutant) {
  cmd->add_option("--pad-convention", convention,
                  "host, hip: how the kernel reads the pads: exact, or granule (CK-tile: rounded down to 64 / 128)")
      ->capture_default_str()
      ->check(CLI::IsMember({"exact", "granule"}));
  cmd->add_option("--kernel-mutant", mutant, "host: build one incident's bug into the kernel (`mxguard kernel list`)");
}

int kernel_run(const KernelRunOptions& o) {
  FusedMoeProblem problem = read_problem(o.in);
  // Flags override the file's metadata: the same bytes read under another contract.
  if (o.gate_mode) problem.gate_mode = parse_gate_mode(*o.gate_mode);
  if (o.is_shuffled) problem.is_shuffled = *o.is_shuffled == "true";
  if (o.hidden_pad) problem.hidden_pad = *o.hidden_pad;
  if (o.intermediate_pad) problem.intermediate_pad = *o.intermediate_pad;
  validate_problem(problem);

  BackendOptions options;
  options.threads = o.threads;
  options.kernel_cmd = o.kernel_cmd;
  options.kernel_worker = o.kernel_worker;
  options.timeout_seconds = o.timeout;
  set_kernel_model(options, o.backend, o.pad_convention, o.kernel_mutant);
  auto backend = make_backend(o.backend, options);
  const BackendInfo info = backend->info();

  const auto start = std::chrono::steady_clock::now();
  const Tensor y = backend->run_combination(problem, o.in);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  write_output(o.out, y,
               {{"backend", info.backend},
                {"kernel", info.kernel},
                {"device", info.device},
                {"gate_mode", std::string(gate_mode_name(problem.gate_mode))},
                {"is_shuffled", problem.is_shuffled ? "true" : "false"},
                {"hidden_pad", std::to_string(problem.hidden_pad)},
                {"intermediate_pad", std::to_string(problem.intermediate_pad)},
                {"seconds", fmt::format("{:.6f}", seconds)}});
  fmt::print("{} [{}] on {}: gate_mode={} is_shuffled={} hidden_pad={} intermediate_pad={} T={} E={} k={} "
             "H={} I_p={}: y {} BF16 -> {} in {:.3f} s\n",
             info.backend, info.kernel, info.device, gate_mode_name(problem.gate_mode), problem.is_shuffled,
             problem.hidden_pad, problem.intermediate_pad, problem.tokens(), problem.experts(), problem.topk(),
             problem.hidden_size(), problem.intermediate_padded(), shape_string(y.shape()), o.out, seconds);
  return exit_code::kPass;
}

int kernel_worker(const KernelWorkerOptions& o) {
  BackendOptions options;
  options.threads = o.threads;
  set_kernel_model(options, o.backend, o.pad_convention, o.kernel_mutant);
  // A worker made by a worker would only add a process: the user's own worker is run directly.
  if (backend_isolation(o.backend) == Isolation::Inherent) {
    throw InputError(fmt::format("--backend {}: already runs outside mxguard; a kernel worker serves an "
                                 "in-process backend (host, hip)", o.backend));
  }
  auto backend = make_backend(o.backend, options);
  return serve_worker(*backend, {{"mxguard", std::string(mxguard_version())}});
}

int kernel_list() {
  for (const auto& name : backend_names()) {
    fmt::print("{:<10} {}\n", name, backend_description(name));
    try {
      const BackendInfo info = make_backend(name)->info();
      fmt::print("{:<10}   kernel: {}; device: {}\n", "", info.kernel, info.device);
    } catch (const std::exception& e) {
      fmt::print("{:<10}   (not constructible with default options: {})\n", "", e.what());
    }
  }
  fmt::print("\nkernel mutants (--kernel-mutant, host backend; README \"Incidents replayed\"):\n");
  for (const auto& m : kernel_mutants()) fmt::print("  {:<22} {}: {}\n", m.name, m.incident, m.description);
  return exit_code::kPass;
}

}  // namespace

void add_kernel_command(CLI::App& app, Action& action) {
  auto* kernel = app.add_subcommand("kernel", "Run one fused-MoE problem through a kernel backend, or list backends");
  kernel->require_subcommand(1);

  auto o = std::make_shared<KernelRunOptions>();
  auto* run = kernel->add_subcommand(
      "run",
      "Run the fused-MoE problem in a problem file (device-layout tensors + contract fields, the external\n"
      "protocol's input format: kernels/backend/EXTERNAL_PROTOCOL.md) through one backend; write y [T, H] BF16.");
  run->add_option("--backend", o->backend, "Registered backend (see `mxguard kernel list`)")->capture_default_str();
  run->add_option("--in", o->in, "Problem file (safetensors)")->required()->check(CLI::ExistingFile);
  run->add_option("--out", o->out, "Output file: safetensors with tensor y [T, H] BF16")->required();
  run->add_option("--gate-mode", o->gate_mode, "Override the file's gate_mode")
      ->check(CLI::IsMember({"separated", "interleave"}));
  run->add_option("--is-shuffled", o->is_shuffled, "Override the file's is_shuffled flag")
      ->check(CLI::IsMember({"true", "false"}));
  run->add_option("--hidden-pad", o->hidden_pad, "Override the file's hidden_pad");
  run->add_option("--intermediate-pad", o->intermediate_pad, "Override the file's intermediate_pad");
  run->add_option("--kernel-cmd", o->kernel_cmd,
                  "external backend: command run via /bin/sh -c in a temporary directory; {in} and {out} are\n"
                  "replaced by the quoted problem and output paths");
  run->add_option("--kernel-worker", o->kernel_worker,
                  "external backend, protocol v2: a persistent worker's command line (JSON lines on its stdin\n"
                  "and stdout), e.g. 'python3 ci/adapters/host_adapter.py --worker'");
  run->add_option("--timeout", o->timeout, "external backend: seconds before the command's process group is killed")
      ->capture_default_str()
      ->check(mxg::cli::seconds());
  run->add_option("--threads", o->threads, "host backend: threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_kernel_model_options(run, o->pad_convention, o->kernel_mutant);
  run->footer(
      "Examples:\n"
      "  mxguard kernel run --backend host --in case.safetensors --out y.safetensors\n"
      "  # the same bytes read as if the is_shuffled flag had been lost:\n"
      "  mxguard kernel run --backend host --in case.safetensors --out y.safetensors --is-shuffled false\n"
      "  # AITER on an AMD GPU through the Python adapter:\n"
      "  mxguard kernel run --backend external --in case.safetensors --out y.safetensors \\\n"
      "      --kernel-cmd 'python3 ci/adapters/aiter_fused_moe.py {in} {out}' --timeout 300\n"
      "  # the same through a persistent worker (external protocol v2):\n"
      "  mxguard kernel run --backend external --in case.safetensors --out y.safetensors \\\n"
      "      --kernel-worker 'python3 ci/adapters/aiter_fused_moe.py --worker' --timeout 300\n"
      "Exit codes: 0 ran, 2 bad input or flags, 3 backend or external command failed.");
  run->callback([&action, o] { action = [o] { return kernel_run(*o); }; });

  auto w = std::make_shared<KernelWorkerOptions>();
  auto* worker = kernel->add_subcommand(
      "worker",
      "Serve the external protocol v2 on stdin/stdout around one backend: a hello line, then one JSON\n"
      "request per line (problem file, output file, id), each answered ok or error\n"
      "(kernels/backend/EXTERNAL_PROTOCOL.md). The matrix runs isolated combinations through it.");
  worker->add_option("--backend", w->backend, "Backend to serve (host, hip)")->capture_default_str();
  worker->add_option("--threads", w->threads, "host backend: threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  add_kernel_model_options(worker, w->pad_convention, w->kernel_mutant);
  worker->footer(
      "Examples:\n"
      "  mxguard kernel run --backend external --in case.safetensors --out y.safetensors \\\n"
      "      --kernel-worker 'mxguard kernel worker --backend host'\n"
      "Exit codes: 0 stdin closed, 2 bad flags or an over-long request line, 3 the backend failed fatally\n"
      "(answered with \"fatal\": true first).");
  worker->callback([&action, w] { action = [w] { return kernel_worker(*w); }; });

  auto* list = kernel->add_subcommand("list", "List the registered kernel backends with their kernel and device");
  list->callback([&action] { action = [] { return kernel_list(); }; });
}

}  // namespace mxg::cli
