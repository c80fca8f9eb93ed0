// How a fused-MoE kernel reads the hidden_pad / intermediate_pad it is handed. AITER has two
// conventions side by side (ROCm/aiter aiter/fused_moe.py, snapshot e4048607, read, not copied):
//  - exact: the FlyDSL kernels (`_flydsl_stage1_wrapper`, `_flydsl_stage2_wrapper`) take both pads as
//    given, so `intermediate_pad` units are dropped however many the loader filled. (In that snapshot
//    `_get_padding_for_flydsl` passes 0 for both pads when a bias is given; older builds, the vLLM
//    #44679 era, did not.) mxguard's own kernels (host, hip) follow this convention.
//  - granule: the CK-tile kernels (`cktile_moe_stage1` / `cktile_moe_stage2` as `get_2stage_cfgs`
//    binds them) get the pads rounded down to granules: stage 1 drops `intermediate_pad // 64 * 64`
//    units per half and `hidden_pad // 128 * 128` inputs, stage 2 reads all but
//    `intermediate_pad // 128 * 128` units and writes all but `hidden_pad // 64 * 64` outputs.
// Which one runs is AITER's dispatcher's choice per shape, token count and tuned-CSV row
// (get_2stage_cfgs), which mxguard cannot see from outside; LAYOUTS.md §4 has the consequences.
#pragma once

#include <cstdint>
#include <string_view>

namespace mxg {

enum class PadConvention : std::uint8_t { Exact, Granule };

std::string_view pad_convention_name(PadConvention c);  // "exact" | "granule"
PadConvention parse_pad_convention(std::string_view s);  // throws InputError naming the value

// The pads a kernel of convention `c` effectively honours, as one (hidden, intermediate) pair that
// a single-pad kernel (mxguard's) can be given to behave the same on every real element:
//  - intermediate: the coarsest-dropping stage decides which units exist (CK-tile stage 1: // 64);
//    stage 2's coarser // 128 rounding reads only units stage 1 never produced, which are zero.
//  - hidden: stage 1's // 128 rounding only widens the inputs read into the zero-filled padding,
//    and stage 2's extra output columns lie beyond H, which the caller slices off; so the hidden
//    pad that matters for real elements is unchanged by either convention.
struct EffectivePads {
  std::int64_t hidden_pad = 0;
  std::int64_t intermediate_pad = 0;
};
EffectivePads effective_pads(PadConvention c, std::int64_t hidden_pad, std::int64_t intermediate_pad);

// CK-tile's granules, named once (get_2stage_cfgs: `// 64 * 64` stage 1 N, `// 128 * 128` stage 2 K).
inline constexpr std::int64_t kCkTileStage1UnitGranule = 64;
inline constexpr std::int64_t kCkTileStage2UnitGranule = 128;

}  // namespace mxg
