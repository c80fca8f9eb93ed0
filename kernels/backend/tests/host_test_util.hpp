// Helpers shared by the host-backend tests: run the host backend and compare with the fp64
// expectation.
#pragma once

#include <string>
#include <vector>

#include "kernels/backend/fused_moe.hpp"

namespace mxg::testing {

// y from the host backend as doubles.
std::vector<double> run_host(const FusedMoeProblem& p, int threads = 2);

// bf16 output rounding (2^-9 relative) dominates: a correct read measures NMSE 2e-6..3e-6 on the
// test shapes; a wrong row, tile or scale order measures 1.4..1.9 and a wrong bias order 0.13
// (host_backend_test.cpp). 1e-4 leaves over an order of magnitude above the correct reads.
inline constexpr double kMatchNmse = 1e-4;
inline constexpr double kCaughtNmse = 0.1;

// Per-element check |y - r| <= 2^-7 |r| + 2^-7 rms(r); returns a description of the first failure.
std::string first_mismatch(const std::vector<double>& y, const std::vector<double>& r, std::int64_t hidden);

}  // namespace mxg::testing
