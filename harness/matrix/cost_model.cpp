// Per-backend cost figures and the time estimate (cost_model.hpp). The constants are measurements;
// each says what was run, where, and what is extrapolated. Remeasure with the commands in
// ci/workflows/README.md "Time budget" when a backend changes.
#include "harness/matrix/cost_model.hpp"

#include <cmath>

#include <fmt/format.h>

#include "kernels/layout/index_maps.hpp"

namespace mxg::matrix {

InstanceLoad instance_load(const Instance& inst, std::int64_t combinations) {
  const auto tp = layout::tp_plan(inst.shape.intermediate, inst.shape.hidden, inst.shape.tp, inst.shape.rank);
  const double ip = static_cast<double>(tp.intermediate_padded), hp = static_cast<double>(tp.hidden_padded);
  const double e = static_cast<double>(inst.shape.experts), t = static_cast<double>(inst.tokens);
  InstanceLoad load;
  load.macs = t * static_cast<double>(inst.shape.topk) * 3.0 * ip * hp;
  // w13 + w2: 3 x I_p x H_p nibbles per expert, one E8M0 scale per 32 of them, fp32 biases, bf16 hidden.
  load.problem_bytes = e * (1.5 * ip * hp * (1.0 + 1.0 / 16.0) + 4.0 * (2.0 * ip + hp)) + 2.0 * t * hp;
  load.combinations = combinations;
  return load;
}

// Measured 2026-12-08 on this project's 2-core build machine (load 2-17 from other jobs), mxguard built
// with the default preset, unless said otherwise (ci/workflows/README.md "Time budget" has the commands):
//  - host, in process, --jobs 1: GPT-OSS-120b tp 8 rank 0 at T = 4 (3.2e8 problem bytes, 7.6e7 MACs)
//    69 ms a combination; at T = 512 (9.7e9 MACs) 2.7 s. Fitted: 2.7e-10 s/MAC + 1.5e-10 s/byte.
//  - the persistent worker path (--isolate, what hip runs in): the same T = 4 combinations took 125 ms,
//    56 ms more for handing over a 3.2e8-byte problem file: 1.75e-10 s/byte (temporary files in RAM here;
//    a disk-backed /tmp costs more). hip adds the host-to-device copy of the problem (~20 GB/s:
//    5e-11 s/byte) and its kernels: H100 decode at T = 16, 1.6e9 MACs in 486 us (README "GPU kernels"):
//    3e-13 s/MAC. No MI35x was measured.
//  - AITER through the Python worker (protocol v2): ~5 ms a request measured with the Python host adapter
//    (README "External kernels"), plus torch loading the problem file (taken as twice the C++ worker's
//    per-byte cost) and AITER's kernel at the H100 figure: an ESTIMATE for MI35x, never measured there.
//  - Per instance, before its combinations and serially in mxguard's process: canonical inputs and the
//    Eigen reference, 1.0 s for the T = 4 instance above and 8.1 s at T = 512: 3.1e-9 s/byte of the rank's
//    problem + 7.3e-10 s/MAC (kInstance* below). On a many-core runner this part is faster (Eigen
//    uses every core); the estimate keeps this machine's figure.
const std::vector<BackendCost>& backend_costs() {
  static const std::vector<BackendCost> costs = {
      {"host", 1.5e-4, 1.5e-10, 2.7e-10, 2, "2 jobs (this machine's cores)",
       "measured on the 2-core build machine"},
      {"hip (H100 figures)", 5.0e-3, 2.25e-10, 3.0e-13, 8, "8 GPUs (--devices 0,...,7)",
       "worker path measured here, kernel from the H100 bench; MI35x not measured"},
      {"external: AITER (MI35x, estimate)", 5.0e-3, 4.0e-10, 3.0e-13, 8, "8 GPUs, a Python worker each",
       "ESTIMATE from the Python host adapter's v2 cost here and the H100 kernel figure"},
  };
  return costs;
}

Estimate estimate(const BackendCost& cost, const std::vector<InstanceLoad>& loads) {
  Estimate e;
  for (const auto& l : loads) {
    e.reference_s += kInstanceSecondsPerByte * l.problem_bytes + kInstanceSecondsPerMac * l.macs;
    e.kernel_s += static_cast<double>(l.combinations) *
                  (cost.per_combination_s + cost.per_byte_s * l.problem_bytes + cost.per_mac_s * l.macs);
  }
  return e;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 90) return fmt::format("{:.0f} s", seconds);
  const auto minutes = static_cast<std::int64_t>(std::llround(seconds / 60));
  if (minutes < 60) return fmt::format("{} min", minutes);
  return fmt::format("{} h {:02d} min", minutes / 60, minutes % 60);
}

}  // namespace mxg::matrix
