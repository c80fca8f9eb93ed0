// The extents a fused-MoE kernel reads and writes in each pad convention (pad_convention.hpp): what
// the matrix may poison, and how many units the derivation expects computed.
#pragma once

#include <cstdint>

#include "kernels/backend/pad_convention.hpp"

namespace mxg {

// What a kernel of convention `c` reads and writes for the stated pads: the inputs stage 1 reads
// (K), the units it computes (N), the units stage 2 reads (K) and the outputs it writes (N). A caller
// that poisons everything absent (the matrix) must poison only beyond these: a CK-tile kernel reads
// into the padding, which the serving stack zero-fills.
struct KernelExtents {
  std::int64_t inputs = 0, units = 0, units_read = 0, outputs = 0;
};
KernelExtents kernel_extents(PadConvention c, std::int64_t hidden_padded, std::int64_t intermediate_padded,
                             std::int64_t hidden_pad, std::int64_t intermediate_pad);

// CK-tile's other granules (get_2stage_cfgs: stage 1 K `hidden_pad // 128 * 128`, stage 2 N
// `hidden_pad // 64 * 64`).
inline constexpr std::int64_t kCkTileStage1InputGranule = 128;
inline constexpr std::int64_t kCkTileStage2OutputGranule = 64;

}  // namespace mxg
