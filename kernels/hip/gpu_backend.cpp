// FusedMoeBackend over the GPU kernels: validates the problem, copies it to the device, enqueues
// the layer, waits, and copies y back. Also the registration kernels/backend's registry collects.
#include "kernels/hip/gpu_backend.hpp"

#include <string>
#include <utility>
#include <vector>

#include "kernels/backend/gpu_hook.hpp"
#include "kernels/backend/guard_zones.hpp"
#include "kernels/backend/pad_convention.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/hip/device_buffer.hpp"
#include "kernels/hip/device_info.hpp"
#include "kernels/hip/gpu_runtime.hpp"

namespace mxg::gpu {
namespace {

class GpuFusedMoeBackend final : public FusedMoeBackend {
 public:
  GpuFusedMoeBackend(KernelFamily family, PadConvention convention)
      : family_(family), convention_(convention), device_(current_device()) {}

  BackendInfo info() const override {
    const std::string pads = convention_ == PadConvention::Exact ? "" : ", granule pads";
    return {kGpuBackendName, "mxguard-fused-moe-a16w4 v1 (" + device_.platform + pads + ")", device_.name};
  }

  // Weights and scales sit between 0xFF guard zones (guard_zones.hpp); the pads are honoured in the
  // configured convention (pad_convention.hpp), exactly as the host backend does.
  Tensor run(const FusedMoeProblem& problem) override {
    validate_problem(problem);
    FusedMoeProblem p = problem;
    const EffectivePads pads = effective_pads(convention_, problem.hidden_pad, problem.intermediate_pad);
    p.hidden_pad = pads.hidden_pad;
    p.intermediate_pad = pads.intermediate_pad;
    const MoeShape shape = moe_shape(p);
    Tensor y(DType::BF16, {shape.tokens, shape.hidden_valid()});
    if (shape.tokens == 0) return y;

    const DeviceBuffer hidden = DeviceBuffer::from_host(p.hidden.bytes());
    const GuardedDeviceBuffer w13(p.w13.bytes(), kGuardBytes);
    const GuardedDeviceBuffer w13_scale(p.w13_scale.bytes(), kGuardBytes);
    const GuardedDeviceBuffer w2(p.w2.bytes(), kGuardBytes);
    const GuardedDeviceBuffer w2_scale(p.w2_scale.bytes(), kGuardBytes);
    const DeviceBuffer w13_bias = DeviceBuffer::from_host(p.w13_bias.bytes());
    const DeviceBuffer w2_bias = DeviceBuffer::from_host(p.w2_bias.bytes());
    const DeviceBuffer ids = DeviceBuffer::from_host(p.topk_ids.bytes());
    const DeviceBuffer weights = DeviceBuffer::from_host(p.topk_weights.bytes());
    DeviceBuffer out(y.nbytes());
    DeviceBuffer workspace(workspace_bytes(shape));

    MoeLaunch launch;
    launch.shape = shape;
    launch.ptr = {hidden.as<const std::uint16_t>(), w13.as<const std::uint8_t>(), w13_scale.as<const std::uint8_t>(),
                  w2.as<const std::uint8_t>(),      w2_scale.as<const std::uint8_t>(), w13_bias.as<const float>(),
                  w2_bias.as<const float>(),        ids.as<const std::int32_t>(),      weights.as<const float>(),
                  out.as<std::uint16_t>()};
    launch.gate_mode = p.gate_mode;
    launch.is_shuffled = p.is_shuffled;
    launch.swiglu_limit = p.swiglu_limit;
    launch.alpha = p.alpha;
    launch.family = family_;
    enqueue_fused_moe(launch, workspace.data(), nullptr);
    check(hipDeviceSynchronize(), "fused-MoE kernels");
    out.download(y.mutable_bytes());
    return y;
  }

 private:
  KernelFamily family_;
  PadConvention convention_;
  DeviceInfo device_;
};

}  // namespace

MoeShape moe_shape(const FusedMoeProblem& p) {
  MoeShape s;
  s.tokens = p.tokens();
  s.topk = p.topk();
  s.experts = p.experts();
  s.hidden_padded = p.hidden_padded();
  s.intermediate_padded = p.intermediate_padded();
  s.hidden_pad = p.hidden_pad;
  s.intermediate_pad = p.intermediate_pad;
  s.w13_scale_cols = p.w13_scale.dim(1);
  s.w2_scale_cols = p.w2_scale.dim(1);
  return s;
}

std::unique_ptr<FusedMoeBackend> make_gpu_backend(const BackendOptions& options, KernelFamily family) {
  if (!options.kernel_mutant.empty()) {
    throw InputError("--kernel-mutant: built into the host backend's kernel only, not the GPU backend");
  }
  return std::make_unique<GpuFusedMoeBackend>(family, options.pad_convention);
}

}  // namespace mxg::gpu

namespace mxg {

std::vector<BackendRegistration> gpu_backend_registrations() {
  std::vector<BackendRegistration> out;
  out.push_back({gpu::kGpuBackendName,
                 "GPU kernels (hipcc for AMD, nvcc for NVIDIA): MXFP4 dequantised in registers, "
                 "gemv for decode, tiled for prefill",
                 [](const BackendOptions& options) { return gpu::make_gpu_backend(options); },
                 Isolation::Default});
  return out;
}

}  // namespace mxg
