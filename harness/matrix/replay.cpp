// Replay commands and --write-problem (replay.hpp).
#include "harness/matrix/replay.hpp"

#include <fmt/format.h>

#include "harness/matrix/canonical_inputs.hpp"
#include "harness/matrix/derivation.hpp"
#include "harness/matrix/device_prep.hpp"
#include "harness/matrix/reference_run.hpp"
#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/subprocess.hpp"

namespace mxg::matrix {
namespace {

// A path as the user would type it from the working directory: relative when it lies below it.
std::string shown_path(const std::filesystem::path& p) {
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  if (ec || !p.is_absolute()) return p.string();
  const auto rel = p.lexically_normal().lexically_relative(cwd);
  if (rel.empty() || *rel.begin() == "..") return p.string();
  return rel.string();
}

}  // namespace

std::string replay_command_prefix(const RunOptions& o) {
  std::string cmd = "mxguard matrix";
  for (const auto& c : o.cases) cmd += " --cases " + proc::shell_quote(shown_path(c));
  cmd += " --backend " + proc::shell_quote(o.backend);
  if (!o.backend_options.kernel_cmd.empty()) cmd += " --kernel-cmd " + proc::shell_quote(o.backend_options.kernel_cmd);
  if (!o.backend_options.kernel_worker.empty()) {
    cmd += " --kernel-worker " + proc::shell_quote(o.backend_options.kernel_worker);
  }
  if (!o.ggml.prep_cmd.empty()) cmd += " --prep-cmd " + proc::shell_quote(o.ggml.prep_cmd);
  if (!o.backend_options.kernel_cmd.empty() || !o.backend_options.kernel_worker.empty() || o.isolate) {
    cmd += fmt::format(" --timeout {:g}", o.backend_options.timeout_seconds);
  }
  if (o.backend_options.pad_convention != PadConvention::Exact) {
    cmd += fmt::format(" --pad-convention {}", pad_convention_name(o.backend_options.pad_convention));
  }
  if (!o.backend_options.kernel_mutant.empty()) cmd += " --kernel-mutant " + proc::shell_quote(o.backend_options.kernel_mutant);
  for (const auto s : o.seeds) cmd += fmt::format(" --seed {}", s);
  return cmd + " --only-id";
}

std::filesystem::path reference_path_for(const std::filesystem::path& problem) {
  const std::string name = problem.filename().string();
  constexpr std::string_view kExt = ".safetensors";
  if (name.size() > kExt.size() && name.ends_with(kExt)) {
    return problem.parent_path() / (name.substr(0, name.size() - kExt.size()) + ".reference" + std::string(kExt));
  }
  return problem.parent_path() / (name + ".reference.safetensors");
}

void write_combination_problem(const Instance& inst, const Combination& combo, const std::filesystem::path& out,
                               PadConvention convention) {
  const CanonicalInputs inputs = generate_inputs(inst.shape, inst.tokens, inst.routing, inst.inputs, inst.seed);
  const RankSlice slice = slice_rank(inputs, inst.shape);
  const Tensor reference = reference_output(inputs, slice.plan, inst.shape);
  FusedMoeProblem p = prepare_problem(slice, combo, inst.shape, convention);
  p.is_shuffled = combo.is_shuffled;
  p.gate_mode = combo.gate_mode;
  const std::string id = result_id(inst, combination_id(combo));
  const Derivation d = derive(combo, rank_geometry(slice), convention);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  write_problem(out, p);
  const auto ref_path = reference_path_for(out);
  write_output(ref_path, reference,
               {{"mxguard_id", id}, {"expected_consistent", d.consistent ? "true" : "false"}});
  fmt::print("{}\n  problem:   {}\n  reference: {} (tensor y; derivation: {})\n", id, out.string(), ref_path.string(),
             d.consistent ? "consistent, the kernel must match it" : "inconsistent, " + d.reason);
  fmt::print("Run and judge it:\n  mxguard kernel run --backend host --in {} --out y.safetensors\n"
             "  mxguard compare y.safetensors {} --tensor y\n",
             proc::shell_quote(out.string()), proc::shell_quote(ref_path.string()));
}

}  // namespace mxg::matrix
