// Which fused-MoE kernels AITER's dispatcher picks for a GPT-OSS MXFP4 layer, as read (not run) in
// ROCm/aiter snapshot e4048607: `aiter/fused_moe.py` `_fused_moe_impl` (activation dtype per token
// count and gate mode) and `get_2stage_cfgs` (tuned-CSV row, else its fallback branches), with the
// GPT-OSS rows of `aiter/configs/model_configs/gptoss_{a16w4,fp4,fp8fp4}_tuned_fmoe.csv`, which
// `aiter/jit/core.py` merges into the tuned table. Only what decides the pad convention is modelled.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/backend/fused_moe.hpp"

namespace mxg::preflight {

struct KernelChoice {
  std::string kernels;  // e.g. "CK-tile (interleave CK-tile branch: no tuned row)"
  bool flydsl = false;  // a FlyDSL kernel takes the pads (exactly; in e4048607 as 0 when a bias is given)
};

struct AiterDispatch {
  KernelChoice decode;   // T < 256: bf16 activations
  KernelChoice prefill;  // T >= 256 (gfx950): fp4 (separated) or fp8 (interleave) activations
};

// For a rank's w13 with I_p units, H_p inputs, `experts` local experts and top-k on gfx950.
AiterDispatch predict_aiter_dispatch(GateMode mode, std::int64_t intermediate_padded, std::int64_t hidden_padded,
                                     std::int64_t experts, std::int64_t topk);

}  // namespace mxg::preflight
