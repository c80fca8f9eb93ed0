// The `host` backend: C++ emulation of the fused-MoE kernel reading the device layout exactly as
// the GPU kernel does (LAYOUTS.md §8). It is the oracle for the layout contract, not for speed.
#include <fmt/format.h>

#include "kernels/backend/builtin_backends.hpp"
#include "kernels/backend/host_moe.hpp"
#include "kernels/backend/parallel_for.hpp"
#include "kernels/common/errors.hpp"

namespace mxg {
namespace {

class HostBackend final : public FusedMoeBackend {
 public:
  explicit HostBackend(int threads) : threads_(host::resolve_threads(threads)) {}

  BackendInfo info() const override {
    return {"host", "host-fused-moe v1 (fp32 accumulation, bf16 output)", fmt::format("cpu ({} threads)", threads_)};
  }

  Tensor run(const FusedMoeProblem& problem) override {
    validate_problem(problem);
    return host::run_fused_moe(problem, threads_);
  }

 private:
  int threads_;
};

}  // namespace

BackendRegistration host_backend_registration() {
  return {"host", "C++ emulation reading the device layout exactly as the GPU kernel does (reference for the contract)",
          [](const BackendOptions& options) -> std::unique_ptr<FusedMoeBackend> {
            if (options.threads < 0) {
              throw InputError(fmt::format("--threads: {} is negative (0 means all cores)", options.threads));
            }
            return std::make_unique<HostBackend>(options.threads);
          }};
}

}  // namespace mxg
