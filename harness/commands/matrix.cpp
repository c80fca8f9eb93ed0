// `mxguard matrix`: the main job — every combination of the case files on one backend, compared
// with the reference, with verdicts, reports and exit codes (DESIGN.md).
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "harness/data/data_dir.hpp"
#include "harness/matrix/dimensions.hpp"
#include "harness/matrix/mutants.hpp"
#include "harness/matrix/runner.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::cli {
namespace {

// "0,1,3" -> {0, 1, 3}; empty -> none. InputError naming the bad item.
std::vector<int> parse_devices(const std::string& text) {
  std::vector<int> devices;
  if (text.empty()) return devices;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int value = -1;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc{} || ptr != item.data() + item.size() || value < 0 || value > 1023) {
      throw InputError(fmt::format("--devices: '{}' in '{}' is not a GPU index (0..1023)", item, text));
    }
    devices.push_back(value);
    if (comma == std::string::npos) return devices;
    start = comma + 1;
  }
}

// --devices gives each worker process a GPU: it needs combinations that run outside mxguard.
void check_devices(const matrix::RunOptions& o) {
  if (o.devices.empty()) return;
  const bool outside = o.backend != "ggml" &&
                       (o.isolate || backend_isolation(o.backend) == Isolation::Inherent);
  if (!outside) {
    throw InputError(fmt::format("--devices: --backend {} runs in mxguard's process; devices are given to worker "
                                 "processes (hip, --isolate, or the external backend)",
                                 o.backend));
  }
  if (o.jobs > 0 && static_cast<std::size_t>(o.jobs) != o.devices.size()) {
    throw InputError(fmt::format("--jobs: {} with --devices listing {}; --devices runs one worker per device",
                                 o.jobs, o.devices.size()));
  }
}

}  // namespace

void add_matrix_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "matrix",
      "Run the kernel matrix: every case instance (shape x tokens x routing x inputs x seed) under every\n"
      "combination of weight prep x weight shuffle x scale shuffle x is_shuffled x gate mode x padding,\n"
      "each compared with the Eigen reference. The expected outcome of a combination is derived from\n"
      "the layout formulas; the verdict compares it with what was measured:\n"
      "  PASS    derived consistent, output matches        CAUGHT  derived inconsistent, output differs\n"
      "  FAIL    derived consistent, output differs        BLIND   derived inconsistent, output matches\n"
      "  ERROR   the combination could not run             SKIPPED not run on purpose\n"
      "Exit: 0 no FAIL/BLIND/ERROR, 1 any FAIL or BLIND, 2 bad input, 3 only ERRORs, 130 interrupted.");
  auto opts = std::make_shared<matrix::RunOptions>();
  auto cases = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--cases", *cases,
                  "Case files or directories of *.json (default: cases/default, or cases/ggml with --backend\n"
                  "ggml, in the mxguard data directory: MXGUARD_DATA, else ../share/mxguard beside the binary)");
  auto scenarios = std::make_shared<std::string>();
  cmd->add_option("--scenarios", *scenarios,
                  "Named historical scenarios file (default: cases/scenarios.json in the mxguard data directory)");
  cmd->add_option("--backend", opts->backend,
                  "Kernel backend: host, hip, external (the AITER family; see `mxguard kernel list`) or ggml\n"
                  "(llama.cpp's ggml MXFP4 MoE on the CPU; runs the ggml-family cases, default cases/ggml)")
      ->capture_default_str();
  cmd->add_option("--prep-cmd", opts->ggml.prep_cmd,
                  "ggml backend, stack mode: the stack's own preparation replaces mxguard's. A command with\n"
                  "{in} (the checkpoint tensors) and {out} (the ggml tensors to write), e.g. llama.cpp's converter:\n"
                  "'/usr/bin/python3 ci/tools/ggml_convert_layer.py --converter-dir llama.cpp/conversion --in {in} --out {out}'");
  cmd->add_option("--kernel-cmd", opts->backend_options.kernel_cmd,
                  "external backend: command with {in} and {out}, e.g.\n"
                  "'python3 ci/adapters/aiter_fused_moe.py {in} {out}'");
  cmd->add_option("--kernel-worker", opts->backend_options.kernel_worker,
                  "external backend, protocol v2: a persistent worker's command line; one worker per job\n"
                  "answers one JSON request per combination (kernels/backend/EXTERNAL_PROTOCOL.md), e.g.\n"
                  "'python3 ci/adapters/aiter_fused_moe.py --worker'");
  cmd->add_option("--timeout", opts->backend_options.timeout_seconds,
                  "Seconds one isolated or external combination may take (and a worker's start-up)")
      ->capture_default_str()
      ->check(mxg::cli::seconds());
  auto rss_limit_mib = std::make_shared<double>(0);
  cmd->add_option("--worker-rss-limit", *rss_limit_mib,
                  "MiB of resident memory a persistent worker's processes may hold (0: no limit); the\n"
                  "combination during which it grows past it is an ERROR and the worker restarts")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  auto devices = std::make_shared<std::string>();
  cmd->add_option("--devices", *devices,
                  "GPU indices, e.g. 0,1,2,3: one worker per GPU (HIP_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES\n"
                  "set per worker); for hip, --isolate and the external backend");
  cmd->add_flag("--isolate", opts->isolate,
                "Run combinations in a persistent child worker (default for hip): a crash or GPU fault\n"
                "becomes that combination's ERROR, a fresh worker takes the next one, the run goes on. The\n"
                "external backend already runs outside mxguard, so there it changes nothing");
  cmd->add_option("--filter", opts->filters,
                  "Glob over result ids, repeatable; '!' excludes. Example:\n"
                  "--filter '*gptoss120b*' --filter '!*flag=0*'");
  auto shard = std::make_shared<std::string>("1/1");
  cmd->add_option("--shard", *shard,
                  "Run part K of N (K/N): the selected combinations split deterministically into N parts of\n"
                  "about equal estimated cost; the N parts together run each combination once")
      ->capture_default_str();
  cmd->add_option("--only-id", opts->only_ids,
                  "Rerun exactly this result id (repeatable): the replay of one combination. Every non-PASS\n"
                  "result in summary.md ends with the command that replays it this way");
  auto write_problem = std::make_shared<std::string>();
  cmd->add_option("--write-problem", *write_problem,
                  "Write this result id's problem file (the device buffers and flags the kernel gets) to --out\n"
                  "and its reference output beside it (NAME.reference.safetensors, tensor y); run nothing.\n"
                  "Without --out the file is named by the id in the current directory");
  cmd->add_option("--image", opts->image,
                  "Container image digest (e.g. sha256:...) recorded with the versions in every report");
  cmd->add_option("--jobs,-j", opts->jobs, "Combinations run in parallel (0: every core; at most 256)")
      ->capture_default_str()
      ->check(job_count());
  cmd->add_option("--max-memory", opts->max_memory_mib,
                  "MiB the run may hold; an instance estimated above it is refused before anything is\n"
                  "allocated (exit 2). Default: the memory available when the run starts")
      ->check(CLI::Range(0.0, 1e12));
  auto out_dir = std::make_shared<std::string>("mxguard-out");
  cmd->add_option("--out", *out_dir,
                  "Output directory: results.jsonl (one line per finished combination), report.json,\n"
                  "junit.xml, summary.md")->capture_default_str();
  cmd->add_flag("--resume", opts->resume, "Skip combinations already in OUT/results.jsonl (ERRORs are re-run)");
  cmd->add_option("--seed", opts->seeds, "Replace the seeds of every case (repeatable)");
  cmd->add_flag("--list", opts->list, "List the instances and combination counts, run nothing");
  cmd->add_flag("--mutants", opts->mutants,
                "Also run the built-in kernel mutants on every derived-consistent combination and report\n"
                "the mutation score (which injected read bugs the matrix catches)");
  auto pad_convention = std::make_shared<std::string>("exact");
  cmd->add_option("--pad-convention", *pad_convention,
                  "How the kernel under test reads hidden_pad / intermediate_pad: exact (AITER's FlyDSL\n"
                  "kernels, mxguard's own) or granule (AITER's CK-tile kernels: pads rounded down to 64 / 128).\n"
                  "The derivation judges padding with it; host and hip emulate it (LAYOUTS.md section 4)")
      ->capture_default_str()
      ->check(CLI::IsMember({"exact", "granule"}));
  cmd->add_option("--kernel-mutant", opts->backend_options.kernel_mutant,
                  "host backend: build one incident's bug into the kernel (zero-output-interleave,\n"
                  "inter-dim-tail-256, k-pad-tail-nan, gugu-rows, scale-tail-overrun; `mxguard kernel list`):\n"
                  "the matrix must FAIL it (README, Incidents replayed)");
  cmd->footer(
      "Examples:\n"
      "  mxguard matrix                                   # the default matrix on the host backend\n"
      "  mxguard matrix --filter '*gptoss*' --pad-convention granule   # CK-tile pads: tp 8 from-i-over-tp is consistent\n"
      "  mxguard matrix --kernel-mutant scale-tail-overrun --filter '*small-decode*'   # exit 1: FAIL\n"
      "  mxguard matrix --cases cases/nightly --backend hip --out nightly-out\n"
      "  mxguard matrix --filter '*gptoss120b-tp8-r0*' --mutants\n"
      "  mxguard matrix --backend external --kernel-cmd 'python3 ci/adapters/aiter_fused_moe.py {in} {out}'\n"
      "  mxguard matrix --backend external --kernel-worker 'python3 ci/adapters/aiter_fused_moe.py --worker' \\\n"
      "      --devices 0,1,2,3,4,5,6,7 --timeout 1800\n"
      "  mxguard matrix --cases cases/nightly --backend hip --devices 0,1,2,3   # one worker per GPU\n"
      "  mxguard matrix --only-id 'small-decode/small-tp1-r0/T=1/route=uniform/in=normal/seed=0/prep=deinterleaved/wshuf=none/sshuf=none/flag=0/gate=separated/pad=correct'\n"
      "  mxguard matrix --write-problem 'small-decode/small-tp1-r0/T=1/route=uniform/in=normal/seed=0/prep=deinterleaved/wshuf=none/sshuf=none/flag=0/gate=separated/pad=correct' \\\n"
      "      --out keep/p.safetensors                     # + keep/p.reference.safetensors\n"
      // Last: the apostrophe in its comment would read as an open quote to a line-joining reader.
      "  mxguard matrix --backend ggml                    # llama.cpp's ggml kernel on cases/ggml\n"
      "Result ids: <case>/<shape>/T=<tokens>/route=<routing>/in=<inputs>/seed=<seed>/prep=../wshuf=../sshuf=../\n"
      "flag=0|1/gate=../pad=..  A summary goes to $GITHUB_STEP_SUMMARY when it is set.");
  auto* out_option = cmd->get_option("--out");
  cmd->callback([&action, opts, cases, scenarios, out_dir, shard, rss_limit_mib, devices, pad_convention,
                 write_problem, out_option]() {
    const bool out_given = out_option->count() > 0;
    action = [opts, cases, scenarios, out_dir, shard, rss_limit_mib, devices, pad_convention, write_problem,
              out_given]() {
      matrix::RunOptions o = *opts;
      if (!write_problem->empty()) {
        // The plan is cut to that one id; --out names the file instead of a directory.
        o.write_problem_id = *write_problem;
        o.only_ids = {*write_problem};
        if (out_given) o.write_problem_out = *out_dir;
      }
      o.backend_options.pad_convention = parse_pad_convention(*pad_convention);
      if (!o.backend_options.kernel_mutant.empty() && o.backend != "host") {
        throw InputError(fmt::format("--kernel-mutant: built into the host backend's kernel only, not --backend {}",
                                     o.backend));
      }
      o.backend_options.worker_rss_limit_bytes = static_cast<std::uint64_t>(*rss_limit_mib * 1024.0 * 1024.0);
      o.devices = parse_devices(*devices);
      o.shard = matrix::parse_shard(*shard);
      for (const auto& c : *cases) o.cases.emplace_back(c);
      if (o.cases.empty()) {
        o.cases.emplace_back(data::find_data_file(o.backend == "ggml" ? "cases/ggml" : "cases/default", "--cases"));
      }
      if (!o.ggml.prep_cmd.empty() && o.backend != "ggml") {
        throw InputError("--prep-cmd: stack mode is for --backend ggml (the ggml family's preparation)");
      }
      if (!o.ggml.prep_cmd.empty() &&
          (o.ggml.prep_cmd.find("{in}") == std::string::npos || o.ggml.prep_cmd.find("{out}") == std::string::npos)) {
        throw InputError(fmt::format("--prep-cmd: '{}' must contain both {{in}} and {{out}}", o.ggml.prep_cmd));
      }
      o.scenarios = scenarios->empty() ? data::find_data_file("cases/scenarios.json", "--scenarios").string() : *scenarios;
      o.out_dir = *out_dir;
      // ggml runs in process (its family's kernel, not a registered fused-MoE backend).
      if (o.backend != "ggml") o.isolate = o.isolate || backend_isolation(o.backend) == Isolation::Default;
      check_devices(o);
      std::error_code ec;
      o.self_exe = std::filesystem::read_symlink("/proc/self/exe", ec);
      o.progress_tty = isatty(STDERR_FILENO) != 0;
      return matrix::run_matrix(o);
    };
  });
}

}  // namespace mxg::cli
