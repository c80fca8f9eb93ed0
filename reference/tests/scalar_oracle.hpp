// An independent fp64 MoE layer for the reference tests: plain loops over the raw canonical bytes,
// written from LAYOUTS.md §1–§3 without any of the library's code (only the E2M1 value table is
// shared). The reference must agree with it to 1e-10 relative in f64 mode.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/tests/layer_fixture.hpp"

namespace mxg::ref::testing {

struct OracleRouting {
  std::vector<int> ids;         // [T, k], best first
  std::vector<double> weights;  // [T, k]
};

// E8M0 and E2M1 as the spec states them.
double oracle_scale(std::uint8_t s);
double oracle_weight(const std::uint8_t* row_bytes, const std::uint8_t* row_scales, std::int64_t k);

OracleRouting oracle_route(const RawLayer& layer, const std::vector<double>& hidden, std::int64_t tokens);
// y [T, H]
std::vector<double> oracle_moe(const RawLayer& layer, const std::vector<double>& hidden, std::int64_t tokens,
                               const OracleRouting& routing);

}  // namespace mxg::ref::testing
