// The `host` backend: C++ emulation of the fused-MoE kernel reading the device layout exactly as
// the GPU kernel does (LAYOUTS.md §8). It is the oracle for the layout contract, not for speed.
// Every weight and scale tensor is read from a copy inside 0xFF guard zones (guard_zones.hpp), the
// pads are honoured in the configured convention (pad_convention.hpp), and a kernel mutant can be
// built in (kernel_mutants.hpp).
#include <fmt/format.h>

#include "kernels/backend/builtin_backends.hpp"
#include "kernels/backend/guard_zones.hpp"
#include "kernels/backend/host_moe.hpp"
#include "kernels/backend/kernel_mutants.hpp"
#include "kernels/backend/parallel_for.hpp"
#include "kernels/common/errors.hpp"

namespace mxg {
namespace {

class HostBackend final : public FusedMoeBackend {
 public:
  HostBackend(int threads, PadConvention convention, KernelMutant mutant)
      : threads_(host::resolve_threads(threads)), convention_(convention), mutant_(mutant) {}

  BackendInfo info() const override {
    std::string kernel = "host-fused-moe v1 (fp32 accumulation, bf16 output";
    if (convention_ != PadConvention::Exact) kernel += fmt::format(", {} pads", pad_convention_name(convention_));
    if (mutant_ != KernelMutant::None) kernel += fmt::format(", kernel mutant {}", kernel_mutant_name(mutant_));
    return {"host", kernel + ")", fmt::format("cpu ({} threads)", threads_)};
  }

  Tensor run(const FusedMoeProblem& problem) override {
    validate_problem(problem);
    FusedMoeProblem guarded = problem;
    guarded.w13 = guarded_copy(problem.w13);
    guarded.w13_scale = guarded_copy(problem.w13_scale);
    guarded.w2 = guarded_copy(problem.w2);
    guarded.w2_scale = guarded_copy(problem.w2_scale);
    const EffectivePads pads = effective_pads(convention_, problem.hidden_pad, problem.intermediate_pad);
    guarded.hidden_pad = pads.hidden_pad;
    guarded.intermediate_pad = pads.intermediate_pad;
    return host::run_fused_moe(guarded, threads_, mutant_);
  }

 private:
  int threads_;
  PadConvention convention_;
  KernelMutant mutant_;
};

}  // namespace

BackendRegistration host_backend_registration() {
  return {"host", "C++ emulation reading the device layout exactly as the GPU kernel does (reference for the contract)",
          [](const BackendOptions& options) -> std::unique_ptr<FusedMoeBackend> {
            if (options.threads < 0) {
              throw InputError(fmt::format("--threads: {} is negative (0 means all cores)", options.threads));
            }
            return std::make_unique<HostBackend>(options.threads, options.pad_convention,
                                                 parse_kernel_mutant(options.kernel_mutant));
          }};
}

}  // namespace mxg
