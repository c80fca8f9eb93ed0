// Estimated wall time of a matrix run per backend, from measured per-combination costs, for
// `mxguard matrix --list` and the CI time budget (ci/workflows/README.md "Time budget"). Where each
// figure comes from is stated next to it in cost_model.cpp; estimates, not promises.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/matrix/instance.hpp"

namespace mxg::matrix {

// What one instance's combinations weigh: the routed multiply-adds one combination computes, the
// bytes of its problem file (what a worker process is handed), and how many combinations it has.
struct InstanceLoad {
  double macs = 0;          // tokens x top-k x 3 x I_p x H_p
  double problem_bytes = 0; // MXFP4 weights + scales + biases + hidden states of the rank
  std::int64_t combinations = 0;
};
InstanceLoad instance_load(const Instance& inst, std::int64_t combinations);

// Seconds of one combination = per_combination + per_byte x problem bytes + per_mac x MACs, on one
// worker; the instance's reference (computed once, before its combinations) = reference_per_mac x MACs.
struct BackendCost {
  std::string backend;      // as --backend, with a note: "hip (H100)"
  double per_combination_s = 0, per_byte_s = 0, per_mac_s = 0;
  int workers = 1;          // parallel workers the figure below is quoted for
  std::string workers_note; // e.g. "8 GPUs (--devices 0,...,7)"
  std::string source;       // where the constants come from, one line
};
const std::vector<BackendCost>& backend_costs();

// Per instance (canonical inputs, the reference): seconds per problem byte and per MAC (cost_model.cpp).
inline constexpr double kInstanceSecondsPerByte = 3.1e-9;
inline constexpr double kInstanceSecondsPerMac = 7.3e-10;

struct Estimate {
  double reference_s = 0;   // inputs and reference per instance: serial, in mxguard's process
  double kernel_s = 0;      // summed over combinations, one worker
  double wall_s(int workers) const { return reference_s + kernel_s / workers; }
};
Estimate estimate(const BackendCost& cost, const std::vector<InstanceLoad>& loads);

// "1 h 05 min", "42 min", "38 s"
std::string format_duration(double seconds);

}  // namespace mxg::matrix
