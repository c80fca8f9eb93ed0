// What SGLang will do to a model's MoE weights on the ROCm AITER MXFP4 path, predicted from the
// model config, the parallel sizes and the environment: the load -> tp-slice -> pad ->
// de-interleave -> shuffle -> is_shuffled -> gate mode pipeline, as one matrix Combination plus
// the per-rank padding table. Each rule cites the SGLang source it comes from (sglang_plan.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/matrix/dimensions.hpp"
#include "harness/preflight/aiter_dispatch.hpp"
#include "harness/preflight/env_vars.hpp"
#include "harness/preflight/model_config.hpp"
#include "kernels/backend/pad_convention.hpp"

namespace mxg::preflight {

// Which SGLang code is running. The incident's versions differ in code, not only in environment.
enum class SglangBehaviour : std::uint8_t {
  PreFix,     // before sgl-project/sglang#26884: a16w4 (interleaved-tile) shuffle, is_shuffled lost
  Separated,  // #26884 until #27201: de-interleave + separated tiles, gate mode separated
  Current,    // #27201 onward: SGLANG_USE_AITER_MOE_GU_ITLV picks interleave (default) or separated
};
std::string_view behaviour_name(SglangBehaviour b);  // "pre-fix" | "separated" | "current"
std::optional<SglangBehaviour> parse_behaviour(std::string_view s);

inline constexpr std::string_view kGuInterleaveEnv = "SGLANG_USE_AITER_MOE_GU_ITLV";
inline constexpr std::string_view kUseAiterEnv = "SGLANG_USE_AITER";

struct PlanRequest {
  ModelConfig model;
  std::int64_t tp = 1, ep = 1;
  EnvAssignments env;
  SglangBehaviour behaviour = SglangBehaviour::Current;
  bool quantization_flag = false;  // --quantization mxfp4 given
  // What-if overrides of the predicted dispatch (documented in --help); unset = predicted.
  std::optional<GateMode> gate_mode;
  std::optional<matrix::WeightShuffle> shuffle;  // the scale shuffle follows the same family
  std::optional<bool> is_shuffled;
  std::optional<matrix::Padding> padding;
  // How the AITER kernel that will run reads the pads (--kernel-pad-convention); unset: unknown, since
  // AITER's dispatcher picks FlyDSL (exact) or CK-tile (granule) per shape, token count and tuned row.
  std::optional<PadConvention> kernel_pads;
};

// One pipeline step: what happens, with which values, and where that rule comes from.
struct Step {
  std::string name;    // "load", "tp-slice", "pad", "de-interleave", "shuffle", "is_shuffled", "gate mode"
  std::string detail;  // with this configuration's numbers
  std::string source;  // SGLang file / function / PR, or "override"
};

// One MoE-TP rank's slice and padding (LAYOUTS.md §4), with what the kernel will use.
struct RankRow {
  std::int64_t rank = 0;
  std::int64_t unit_start = 0, unit_end = 0, loaded = 0;  // intermediate units the loader copies
  std::int64_t units_over_tp = 0;                          // I / tp
  std::int64_t intermediate_padded = 0;                    // I_p
  std::int64_t intermediate_pad = 0;                       // what the kernel is told
  std::int64_t used = 0;                                   // I_p - intermediate_pad (exact convention)
  std::int64_t dropped = 0;                                // loaded units an exact-pad kernel treats as padding
  std::int64_t used_granule = 0;                           // units a CK-tile (granule) kernel computes
  std::int64_t dropped_granule = 0;                        // loaded units it treats as padding
};

struct Plan {
  PlanRequest request;
  std::int64_t moe_tp = 1;             // tp / ep: the intermediate axis is split this many ways
  std::int64_t experts_per_rank = 0;   // E / ep
  std::int64_t hidden_padded = 0, hidden_pad = 0;
  bool gu_interleave = true;           // SGLANG_USE_AITER_MOE_GU_ITLV as SGLang reads it
  std::string gu_interleave_source;    // "--env" or where the default comes from
  matrix::Combination combo;           // what the kernel will be handed (padding per request)
  std::vector<Step> steps;
  std::vector<RankRow> ranks;
  std::vector<std::string> notes;      // things preflight cannot verify statically
  AiterDispatch dispatch;              // AITER's kernel choice for rank 0, as read in e4048607
};

// Throws InputError for sizes SGLang cannot run: tp or ep < 1, ep not dividing tp, ep not
// dividing the expert count, tp not dividing I, I or H not a multiple of 32, a quant_method other
// than mxfp4, or a non-boolean SGLANG_USE_AITER_MOE_GU_ITLV.
Plan plan_sglang(const PlanRequest& request);

}  // namespace mxg::preflight
