#include "harness/matrix/ggml/ggml_instance_run.hpp"

#include <chrono>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "harness/matrix/canonical_inputs.hpp"
#include "harness/matrix/evaluate.hpp"
#include "harness/matrix/reference_run.hpp"
#include "kernels/backend/external_backend.hpp"
#include "kernels/backend/parallel_for.hpp"
#include "kernels/backend/subprocess.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/layout/ggml_convert.hpp"
#include "kernels/layout/ggml_experts_io.hpp"
#include "kernels/layout/index_maps.hpp"
#if MXG_HAVE_GGML
#include "kernels/ggml/ggml_moe.hpp"
#endif

namespace mxg::matrix::ggml {
namespace {

using layout::ggml::CheckpointExperts;
using ggml_family::GgmlExperts;

CheckpointExperts checkpoint_of(const CanonicalInputs& in) {
  return {in.gate_up_blocks, in.gate_up_scales, in.gate_up_bias, in.down_blocks, in.down_scales, in.down_bias};
}

// Stack mode: the stack's own command turns the checkpoint tensors into ggml's.
GgmlExperts stack_prepare(const CheckpointExperts& ck, const std::string& tag, const GgmlRunSettings& s) {
  std::filesystem::create_directories(s.work_dir);
  const auto in = s.work_dir / (tag + ".checkpoint.safetensors");
  const auto out = s.work_dir / (tag + ".ggml.safetensors");
  layout::ggml::write_checkpoint_experts(in, ck);
  std::filesystem::remove(out);
  // substitute_command quotes the paths for the shell itself.
  const auto cmd = substitute_command(s.prep_cmd, std::filesystem::absolute(in).string(),
                                      std::filesystem::absolute(out).string());
  const auto r = proc::run_shell(cmd, std::filesystem::current_path(), s.timeout_seconds);
  if (!r.ok()) {
    throw InfraError(fmt::format("--prep-cmd: {}: {}", r.status(), proc::last_lines(r.stderr_tail, 5)));
  }
  return layout::ggml::load_ggml_experts(out);
}

std::string file_tag(const Instance& inst) {
  std::string tag = inst.id();
  for (char& ch : tag)
    if (ch == '/' || ch == '=') ch = '_';
  return tag;
}

}  // namespace

bool ggml_kernel_available() { return MXG_HAVE_GGML != 0; }

std::vector<GgmlCombination> stack_combinations(const std::vector<GgmlCombination>& swept) {
  std::vector<GgmlCombination> out;
  for (const auto& c : swept) {
    GgmlCombination s;
    s.stack = true;
    s.buffers = c.buffers;
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

namespace {

// One combination through the kernel, judged against the reference.
report::CombinationResult run_one(const Instance& inst, const GgmlCombination& c, const ggml_family::GgmlExperts& experts,
                                  const CanonicalInputs& inputs, const Tensor& reference,
                                  const std::vector<Scenario>& scenarios) {
  report::CombinationResult r = result_header(inst, combination_id(c), dimension_map(c));
  r.scenarios = realised_scenarios(scenarios, r.dims);
  const GgmlDerivation d = derive(c);
  r.expected_consistent = d.consistent;
  r.derivation = d.reason;
  r.backend = "ggml";
  const auto start = std::chrono::steady_clock::now();
  try {
#if MXG_HAVE_GGML
    // One ggml thread per problem: the matrix runs --jobs problems at once, and ggml's spinning
    // barriers cost more than they gain on a loaded machine (measured in kernels/ggml/bench).
    ggml_family::GgmlMoeProblem problem{experts, inputs.hidden, inputs.topk_ids, inputs.topk_weights,
                                        inst.shape.alpha, inst.shape.swiglu_limit};
    ggml_family::GgmlRunReport run_report;
    const Tensor y = ggml_family::run_ggml_moe(
        problem, ggml_family::GgmlRunOptions{1, c.buffers == WeightBuffers::repack}, &run_report);
    r.kernel = ggml_family::ggml_kernel_version();
    r.device = fmt::format("cpu ({} thread per problem)", run_report.threads);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    judge(r, y, reference, inputs.topk_ids, inputs.topk_weights, inputs.expert_ids);
#else
    (void)experts;
    throw InfraError("this mxguard was built without the ggml source (run ci/fetch-llama-cpp, then rebuild)");
#endif
  } catch (const std::exception& e) {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.verdict = report::Verdict::Error;
    r.message = e.what();
  }
  return r;
}

report::CombinationResult prep_error(const Instance& inst, const GgmlCombination& c, const std::string& what) {
  report::CombinationResult r = result_header(inst, combination_id(c), dimension_map(c));
  r.backend = "ggml";
  r.verdict = report::Verdict::Error;
  r.message = "preparing the ggml experts failed: " + what;
  return r;
}

}  // namespace

void run_ggml_instance(const Instance& inst, const std::vector<GgmlCombination>& combinations,
                       const std::vector<Scenario>& scenarios, const GgmlRunSettings& settings,
                       const std::function<bool()>& interrupted,
                       const std::function<void(report::CombinationResult)>& record) {
  const CanonicalInputs inputs = generate_inputs(inst.shape, inst.tokens, inst.routing, inst.inputs, inst.seed);
  const auto plan = layout::tp_plan(inst.shape.intermediate, inst.shape.hidden, 1, 0);
  const Tensor reference = reference_output(inputs, plan, inst.shape);
  const CheckpointExperts ck = checkpoint_of(inputs);

  // Work items: combinations sharing a preparation (the buffers dimension only changes how ggml
  // holds the experts), prepared once per item.
  std::vector<std::vector<GgmlCombination>> groups;
  std::map<std::string, std::size_t> group_of;
  for (const auto& c : combinations) {
    const std::string key = c.stack ? "stack" : layout::ggml::ggml_prep_id(c.prep);
    const auto [it, fresh] = group_of.emplace(key, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(c);
  }
  std::mutex record_mu;
  auto emit = [&](report::CombinationResult r) {
    std::lock_guard lock(record_mu);
    record(std::move(r));
  };
  host::parallel_for(static_cast<std::int64_t>(groups.size()), host::resolve_threads(settings.threads), [&](std::int64_t g) {
    if (interrupted()) return;
    const auto& group = groups[static_cast<std::size_t>(g)];
    GgmlExperts experts;
    try {
      experts = group.front().stack ? stack_prepare(ck, file_tag(inst), settings)
                                    : layout::ggml::prepare_ggml_experts(ck, group.front().prep, "checkpoint", layout::Threads{1});
    } catch (const std::exception& e) {
      for (const auto& c : group) emit(prep_error(inst, c, e.what()));
      return;
    }
    for (const auto& c : group) {
      if (interrupted()) return;
      emit(run_one(inst, c, experts, inputs, reference, scenarios));
    }
  });
}

}  // namespace mxg::matrix::ggml
