// The expectation for the GPU tests: LAYOUTS.md §3 in double precision, read straight from the
// checkpoint-order layer (gate = row 2u, up = row 2u+1), so it shares no layout code with the
// kernels. Absent inputs (k >= H) and units (u >= I_p - intermediate_pad) are left out, as the
// kernel contract (§8) says.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/hip/tests/moe_case.hpp"

namespace mxg::gpu::testing {

// y [T, H] in double.
std::vector<double> reference_moe(const CanonicalMoe& c, double swiglu_limit, double alpha);

struct Agreement {
  double nmse = 0;     // sum (y - r)^2 / sum r^2
  double max_rel = 0;  // max |y - r| / rms(r)
  std::int64_t non_finite = 0;
};

// Compares bf16 outputs [rows, H] with the first rows * H values of `reference`.
Agreement compare(const std::vector<std::uint16_t>& y_bf16, const std::vector<double>& reference);

}  // namespace mxg::gpu::testing
