// The prediction rules. Sources (sgl-project/sglang unless noted; PR numbers are GitHub pull requests):
//  - load / tp-slice: python/sglang/srt/models/gpt_oss.py, _load_mxfp4_experts_weights — each MoE-TP
//    rank takes whole 32-unit MXFP4 blocks, ceil((I/32)/moe_tp) of them (LAYOUTS.md §4).
//  - moe_tp = tp / ep and experts per rank = E / ep: SGLang's MoE parallel groups (ep must divide tp).
//  - pad: Mxfp4MoEMethod.create_weights on the AITER path — I_p = round_up(I/tp, 256),
//    H_p = round_up(H, 256), intermediate_pad = I_p - intermediate_size_per_partition (= I/tp), the
//    same arithmetic the Quark W4A8 MXFP4 scheme copies (quark_w4a8_mxfp4_moe.py create_weights).
//  - de-interleave: Mxfp4MoEMethod.process_weights_after_loading, w13 .view(e, n//2, 2, k)
//    .permute(0, 2, 1, 3) before either shuffle (the Quark scheme's comment describes the native
//    path's starting state this way).
//  - SGLANG_USE_AITER_MOE_GU_ITLV: python/sglang/srt/environ.py, EnvBool(True).
//  - shuffle family by version: #26884 (2026-06-01) replaced shuffle_weight_a16w4 /
//    shuffle_scale_a16w4 (interleaved tiles) with de-interleave + shuffle_weight(is_guinterleave=False)
//    and fixed the lost is_shuffled (the dispatcher had picked a preshuffle_off kernel); #27201
//    (2026-06-04) went back to the a16w4 interleave path when the env var is true because the
//    separated FlyDSL fp4x2 kernel is wrong at TP >= 2.
//  - gate mode: python/sglang/srt/layers/moe/moe_runner/aiter.py passes GateMode.INTERLEAVE when
//    swiglu_limit > 0 and SGLANG_USE_AITER_MOE_GU_ITLV is true, SEPARATED otherwise.
#include "harness/preflight/sglang_plan.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/tp_slice.hpp"

namespace mxg::preflight {

std::string_view behaviour_name(SglangBehaviour b) {
  switch (b) {
    case SglangBehaviour::PreFix: return "pre-fix";
    case SglangBehaviour::Separated: return "separated";
    case SglangBehaviour::Current: return "current";
  }
  return "?";
}

std::optional<SglangBehaviour> parse_behaviour(std::string_view s) {
  for (auto b : {SglangBehaviour::PreFix, SglangBehaviour::Separated, SglangBehaviour::Current}) {
    if (behaviour_name(b) == s) return b;
  }
  return std::nullopt;
}

namespace {

matrix::ScaleShuffle scale_family(matrix::WeightShuffle w) {
  switch (w) {
    case matrix::WeightShuffle::None: return matrix::ScaleShuffle::None;
    case matrix::WeightShuffle::SeparatedTiles: return matrix::ScaleShuffle::Separated;
    case matrix::WeightShuffle::InterleavedTiles: return matrix::ScaleShuffle::Interleaved;
  }
  return matrix::ScaleShuffle::None;
}

void validate(const PlanRequest& r) {
  const std::string& file = r.model.source;
  if (r.tp < 1) throw InputError(fmt::format("--tp {}: must be at least 1", r.tp));
  if (r.ep < 1) throw InputError(fmt::format("--ep {}: must be at least 1", r.ep));
  if (r.tp % r.ep != 0) {
    throw InputError(fmt::format("--ep {}: does not divide --tp {} (SGLang splits the tp group into ep x moe_tp)",
                                 r.ep, r.tp));
  }
  if (r.model.experts % r.ep != 0) {
    throw InputError(fmt::format("{}: num_local_experts = {} is not divisible by --ep {}", file, r.model.experts,
                                 r.ep));
  }
  const std::int64_t moe_tp = r.tp / r.ep;
  if (r.model.intermediate % moe_tp != 0) {
    throw InputError(fmt::format("{}: intermediate_size = {} is not divisible by the MoE tp size {} (--tp {} / --ep "
                                 "{}): SGLang's intermediate_size_per_partition would not be whole",
                                 file, r.model.intermediate, moe_tp, r.tp, r.ep));
  }
  if (!r.model.quant_method.empty() && r.model.quant_method != "mxfp4") {
    throw InputError(fmt::format("{}: quantization_config.quant_method = '{}' but preflight models the MXFP4 "
                                 "checkpoint path (quant_method 'mxfp4')",
                                 file, r.model.quant_method));
  }
  if (r.model.quant_method.empty() && !r.quantization_flag) {
    throw InputError(fmt::format("{}: quantization_config is missing; give --quantization mxfp4 to predict the MXFP4 "
                                 "path anyway",
                                 file));
  }
}

// SGLANG_USE_AITER_MOE_GU_ITLV as the given SGLang version reads it, and where the value comes from.
std::pair<bool, std::string> gu_interleave(const PlanRequest& r) {
  if (const auto v = env_value(r.env, kGuInterleaveEnv)) {
    return {parse_env_bool(kGuInterleaveEnv, *v), fmt::format("--env {}={}", kGuInterleaveEnv, *v)};
  }
  return {true, fmt::format("default: python/sglang/srt/environ.py declares {} = EnvBool(True)", kGuInterleaveEnv)};
}

}  // namespace

Plan plan_sglang(const PlanRequest& r) {
  validate(r);
  Plan p;
  p.request = r;
  p.moe_tp = r.tp / r.ep;
  p.experts_per_rank = r.model.experts / r.ep;
  std::tie(p.gu_interleave, p.gu_interleave_source) = gu_interleave(r);
  const std::string label = fmt::format("{}: intermediate_size {}, hidden_size {}, MoE tp {}", r.model.source,
                                        r.model.intermediate, r.model.hidden, p.moe_tp);

  // Predicted dispatch per SGLang version (see the header comment for the sources).
  matrix::Combination c;
  c.prep = matrix::Prep::Deinterleaved;
  std::string shuffle_source, flag_source, gate_source;
  switch (r.behaviour) {
    case SglangBehaviour::PreFix:
      c.weight_shuffle = matrix::WeightShuffle::InterleavedTiles;
      c.is_shuffled = false;
      c.gate_mode = p.gu_interleave ? GateMode::Interleave : GateMode::Separated;
      shuffle_source = "pre-#26884 Mxfp4MoEMethod.process_weights_after_loading: shuffle_weight_a16w4(w13, 16, "
                       "True) / shuffle_scale_a16w4 regardless of the env var";
      flag_source = "pre-#26884: is_shuffled set on the Parameter was lost when the tensor was re-assigned / viewed, "
                    "so the dispatcher chose a preshuffle_off kernel (#26884's root cause 2)";
      gate_source = "moe_runner/aiter.py: INTERLEAVE iff swiglu_limit > 0 and the env var is true";
      break;
    case SglangBehaviour::Separated:
      c.weight_shuffle = matrix::WeightShuffle::SeparatedTiles;
      c.is_shuffled = true;
      c.gate_mode = GateMode::Separated;
      shuffle_source = "#26884: shuffle_weight / shuffle_scale with is_guinterleave=False (gate_up=True for w13)";
      flag_source = "#26884: w13_weight.is_shuffled = w2_weight.is_shuffled = True, kept through dispatch";
      gate_source = "#26884: GPT-OSS MXFP4 dispatched with GateMode.SEPARATED (the layout of gptoss_fp4_tuned_fmoe.csv)";
      break;
    case SglangBehaviour::Current:
      c.weight_shuffle =
          p.gu_interleave ? matrix::WeightShuffle::InterleavedTiles : matrix::WeightShuffle::SeparatedTiles;
      c.is_shuffled = true;
      c.gate_mode = p.gu_interleave ? GateMode::Interleave : GateMode::Separated;
      shuffle_source = p.gu_interleave
                           ? "#27201: env var true -> shuffle_weight_a16w4(w13, 16, True) / shuffle_scale_a16w4 "
                             "(is_guinterleave=True, gate_up)"
                           : "#27201: env var false -> shuffle_weight(is_guinterleave=False, gate_up=True) / "
                             "shuffle_scale(is_guinterleave=False)";
      flag_source = "Mxfp4MoEMethod: w13_weight.is_shuffled = w2_weight.is_shuffled = True (on gfx95)";
      gate_source = "moe_runner/aiter.py: INTERLEAVE iff swiglu_limit > 0 and the env var is true";
      break;
  }
  if (r.shuffle) {
    c.weight_shuffle = *r.shuffle;
    shuffle_source = "override (--shuffle)";
  }
  if (r.is_shuffled) {
    c.is_shuffled = *r.is_shuffled;
    flag_source = "override (--is-shuffled)";
  }
  if (r.gate_mode) {
    c.gate_mode = *r.gate_mode;
    gate_source = "override (--gate-mode)";
  }
  c.scale_shuffle = scale_family(c.weight_shuffle);
  c.padding = r.padding.value_or(matrix::Padding::FromIOverTp);
  p.combo = c;

  // Per-rank slice and padding from the project's one TP formula (kernels/layout index_maps.hpp).
  for (std::int64_t rank = 0; rank < p.moe_tp; ++rank) {
    const layout::TpPlan t = layout::make_tp_plan(r.model.intermediate, r.model.hidden, p.moe_tp, rank, label);
    RankRow row{.rank = rank, .unit_start = t.unit_start, .unit_end = t.unit_end, .loaded = t.units_loaded,
                .units_over_tp = t.shard_units, .intermediate_padded = t.intermediate_padded};
    row.intermediate_pad =
        c.padding == matrix::Padding::Correct ? t.intermediate_padded - t.units_loaded : t.intermediate_pad;
    row.used = t.intermediate_padded - row.intermediate_pad;
    row.dropped = std::max<std::int64_t>(0, row.loaded - row.used);
    row.used_granule =
        t.intermediate_padded - effective_pads(PadConvention::Granule, t.hidden_pad, row.intermediate_pad).intermediate_pad;
    row.dropped_granule = std::max<std::int64_t>(0, row.loaded - row.used_granule);
    p.ranks.push_back(row);
    p.hidden_padded = t.hidden_padded;
    p.hidden_pad = t.hidden_pad;
  }

  const RankRow& r0 = p.ranks.front();
  p.steps.push_back({"load",
                     fmt::format("checkpoint w13 rows interleaved (g0,u0,g1,u1,...); {} experts, {} per rank (ep {})",
                                 r.model.experts, p.experts_per_rank, r.ep),
                     "models/gpt_oss.py _load_mxfp4_experts_weights; ep: SGLang MoE groups, moe_tp = tp / ep"});
  p.steps.push_back({"tp-slice",
                     fmt::format("MoE tp {}: rank r takes units [r*{}, min((r+1)*{}, {})) — whole 32-unit blocks",
                                 p.moe_tp, r0.loaded, r0.loaded, r.model.intermediate),
                     "models/gpt_oss.py: ceil((I/32)/moe_tp)*32 units per rank"});
  p.steps.push_back(
      {"pad",
       fmt::format("H_p = {} (hidden_pad {}), I_p = round_up(I/tp, 256) = {}, intermediate_pad = {} ({})",
                   p.hidden_padded, p.hidden_pad, r0.intermediate_padded, r0.intermediate_pad,
                   c.padding == matrix::Padding::Correct ? "I_p - units loaded, per rank" : "I_p - I/tp"),
       r.padding ? "override (--intermediate-pad)"
                 : "Mxfp4MoEMethod.create_weights (AITER): intermediate_pad = I_p - intermediate_size_per_partition"});
  p.steps.push_back({"de-interleave", "w13 weights, scales and bias -> [gate | up] halves (w2 untouched)",
                     "Mxfp4MoEMethod.process_weights_after_loading: .view(e, n//2, 2, k).permute(0, 2, 1, 3)"});
  p.steps.push_back({"shuffle",
                     fmt::format("weights {}, scales {}", matrix::name(c.weight_shuffle),
                                 matrix::name(c.scale_shuffle)),
                     shuffle_source});
  p.steps.push_back({"is_shuffled", c.is_shuffled ? "true at dispatch" : "false at dispatch", flag_source});
  const bool env_read = r.behaviour != SglangBehaviour::Separated && !r.gate_mode;
  p.steps.push_back({"gate mode",
                     env_read ? fmt::format("{} ({} = {}, from {})", gate_mode_name(c.gate_mode), kGuInterleaveEnv,
                                            p.gu_interleave ? "true" : "false", p.gu_interleave_source)
                              : fmt::format("{} ({} not consulted)", gate_mode_name(c.gate_mode), kGuInterleaveEnv),
                     gate_source});
  p.dispatch = predict_aiter_dispatch(c.gate_mode, r0.intermediate_padded, p.hidden_padded, p.experts_per_rank,
                                      r.model.experts_per_token);
  p.steps.push_back({"AITER kernel",
                     fmt::format("decode (T < 256): {}; prefill (T >= 256): {}", p.dispatch.decode.kernels,
                                 p.dispatch.prefill.kernels),
                     "ROCm/aiter e4048607 aiter/fused_moe.py _fused_moe_impl, get_2stage_cfgs; "
                     "configs/model_configs/gptoss_*_tuned_fmoe.csv (read, not run)"});

  // What a static look cannot confirm.
  if (const auto v = env_value(r.env, kUseAiterEnv); !v) {
    p.notes.push_back(fmt::format("{} is not in --env: SGLang takes the AITER MoE path only with {}=1; the "
                                  "prediction assumes it",
                                  kUseAiterEnv, kUseAiterEnv));
  } else if (!parse_env_bool(kUseAiterEnv, *v)) {
    p.notes.push_back(fmt::format("{}={}: SGLang will not take the AITER MoE path, so this prediction does not "
                                  "apply to the run",
                                  kUseAiterEnv, *v));
  }
  for (const auto& [key, value] : r.env) {
    if (key != kGuInterleaveEnv && key != kUseAiterEnv) {
      p.notes.push_back(fmt::format("--env {}={} is not modelled by preflight", key, value));
    }
  }
  if (r.model.model_type != "gpt_oss") {
    p.notes.push_back(fmt::format("model_type '{}' is not gpt_oss: the GPT-OSS loader facts (interleaved checkpoint "
                                  "rows, the de-interleave step) are assumed",
                                  r.model.model_type));
  }
  if (r.model.swiglu_limit <= 0.0) {
    p.notes.push_back("the config has no positive swiglu_limit (GPT-OSS configs carry 7.0): moe_runner/aiter.py "
                      "then passes no gate mode (SEPARATED) whatever the env var says, unless the model sets one");
  }
  p.notes.push_back("GPU architecture assumed gfx950 (MI35x): SGLang pre-shuffles MXFP4 MoE weights only where "
                    "is_gfx95_supported(); elsewhere the weights stay unshuffled");
  p.notes.push_back(
      r.kernel_pads
          ? fmt::format("the AITER kernel is assumed to read the pads the {} way (--kernel-pad-convention)",
                        pad_convention_name(*r.kernel_pads))
          : "the AITER kernel step is AITER e4048607's dispatcher as read; another AITER build (its tuned CSVs, "
            "its FlyDSL pad handling) may pick otherwise, so pad hazards that depend on it are warnings");
  return p;
}

}  // namespace mxg::preflight
