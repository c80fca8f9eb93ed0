// Test-side preparation of DEVICE layouts from a canonical layer. The layout formulas here are
// re-derived from LAYOUTS.md on purpose (not taken from kernels/layout/index_maps.hpp), so the
// host backend's reads are checked against an independent statement of the contract.
#pragma once

#include <cstdint>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/backend/tests/moe_fixture.hpp"

namespace mxg::testing {

// Where w13 rows (weights and scales, or biases) of unit j sit in the padded device buffer.
enum class RowOrder {
  Checkpoint,        // 2j gate, 2j+1 up (no de-interleave)
  Separated,         // j gate, I_p + j up (de-interleaved, §5)
  BlockInterleaved,  // 16-row gate/up blocks alternate (§6 first step of the interleaved tiles)
};

enum class ScaleShuffle {
  None,         // row-major [E*2*I_p, H_p/32]
  Separated,    // §7 separated: rows padded to 256, cols to 8
  Interleaved,  // §7 interleaved: cols padded to 8, rows not padded
};

struct DevicePrep {
  RowOrder weight_rows = RowOrder::Separated;  // weights and their scales
  RowOrder bias_rows = RowOrder::Separated;
  bool tile_shuffle = false;                   // §6 16x16 tiles on w13 and w2 bytes
  ScaleShuffle scales = ScaleShuffle::None;    // w13 and w2 scales
  bool poison_padding = false;  // NaN scales/biases/inputs and random bytes in every padded place
};

struct KernelFlags {
  GateMode gate_mode = GateMode::Separated;
  bool is_shuffled = false;
  std::int64_t hidden_pad = 0;
  std::int64_t intermediate_pad = 0;
};

FusedMoeProblem prepare_device(const CanonicalMoe& m, const DevicePrep& prep, const KernelFlags& flags);

// The consistent preparation for a kernel configuration (what SGLang's loader should do).
DevicePrep consistent_prep(GateMode mode, bool is_shuffled);
// Pads of the shape (H_p - H, I_p - units loaded).
KernelFlags correct_flags(const MoeShape& s, GateMode mode, bool is_shuffled);

}  // namespace mxg::testing
