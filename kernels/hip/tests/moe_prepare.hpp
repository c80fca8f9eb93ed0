// The consistent device preparation (LAYOUTS.md §8) of a canonical test layer for each kernel read
// path: de-interleave w13 rows (§5); for gate mode interleave, alternate 16-row gate/up blocks;
// when shuffled, the tile shuffle of the weights (§6) and the scale shuffle (§7). Every index comes
// from kernels/layout/index_maps.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/hip/tests/moe_case.hpp"

namespace mxg::gpu::testing {

struct DeviceLayout {
  std::vector<std::uint8_t> w13, w2;             // [E, rows, K/2] in the kernel's byte order
  std::vector<std::uint8_t> w13_scale, w2_scale; // 2-D, padded when shuffled
  std::int64_t w13_scale_rows = 0, w13_scale_cols = 0, w2_scale_rows = 0, w2_scale_cols = 0;
  std::vector<float> w13_bias;  // [E, 2*I_p], [gate | up] in both gate modes
  std::vector<float> w2_bias;   // [E, H_p]
};

DeviceLayout prepare_layout(const CanonicalMoe& c, GateMode gate_mode, bool shuffled);

}  // namespace mxg::gpu::testing
