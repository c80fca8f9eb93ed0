// The known-bad rules. Layout consistency is decided by the matrix derivation (one formula per
// layout, never re-derived here); the TP rule and the padding rule read the plan's numbers.
#include "harness/preflight/checks.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "harness/matrix/derivation.hpp"

namespace mxg::preflight {

bool Verdict::bad() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::Bad; });
}

bool Verdict::warned() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::Warning && f.rule != "unverified"; });
}

namespace {

// A small geometry whose sizes are multiples of every tile and scale block: consistency of a
// (prep, shuffle, flag, gate mode) combination does not depend on the size, and this one derives in
// microseconds. Padding is judged separately, per real rank.
matrix::Geometry consistency_geometry() {
  return matrix::Geometry{.hidden = 96, .hidden_padded = 256, .loaded_units = 64, .intermediate_padded = 256,
                          .units_over_tp = 64, .experts = 3};
}

// Names the parts of the combination that disagree, for the message; the derivation has decided.
std::string mismatch_summary(const matrix::Combination& c) {
  std::vector<std::string> parts;
  if (!c.is_shuffled && c.weight_shuffle != matrix::WeightShuffle::None) {
    parts.push_back(fmt::format("weights were shuffled ({}) but is_shuffled is false, so the kernel reads them as "
                                "plain rows (preshuffle_off)",
                                matrix::name(c.weight_shuffle)));
  }
  if (c.is_shuffled && c.weight_shuffle == matrix::WeightShuffle::None) {
    parts.push_back("is_shuffled is true but nothing was shuffled");
  }
  const bool interleaved_rows = c.weight_shuffle == matrix::WeightShuffle::InterleavedTiles;
  if (c.weight_shuffle != matrix::WeightShuffle::None && interleaved_rows != (c.gate_mode == GateMode::Interleave)) {
    parts.push_back(fmt::format("the {} shuffle family does not match gate mode {}", matrix::name(c.weight_shuffle),
                                gate_mode_name(c.gate_mode)));
  }
  if (c.weight_shuffle == matrix::WeightShuffle::None && c.gate_mode == GateMode::Interleave) {
    parts.push_back("gate mode interleave needs 16-row gate/up blocks, which only the interleaved-tiles shuffle makes");
  }
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

// Loaded units a rank's kernel surely drops: in the pinned convention, or (convention unknown) in
// both, since a granule kernel drops no more than an exact one.
std::int64_t dropped_units(const Plan& plan, const RankRow& r) {
  if (!plan.request.kernel_pads) return r.dropped_granule;
  return *plan.request.kernel_pads == PadConvention::Exact ? r.dropped : r.dropped_granule;
}

// The padding rule (LAYOUTS.md §4): BAD where the kernel surely drops loaded units, WARN where only
// an exact-pad kernel would (the vLLM #44679 class: which kernel runs is AITER's choice).
std::optional<Finding> pad_finding(const Plan& plan) {
  std::string sure, exact_only;
  std::int64_t sure_total = 0, exact_total = 0;
  for (const RankRow& r : plan.ranks) {
    if (const std::int64_t d = dropped_units(plan, r); d > 0) {
      sure_total += d;
      sure += fmt::format("{}rank {} loaded {} but the kernel uses {}", sure.empty() ? "" : ", ", r.rank, r.loaded,
                          r.loaded - d);
    }
    if (r.dropped > 0) {
      exact_total += r.dropped;
      exact_only += fmt::format("{}rank {} loaded {} but the kernel uses {}", exact_only.empty() ? "" : ", ", r.rank,
                                r.loaded, r.used);
    }
  }
  const std::string convention =
      plan.request.kernel_pads ? fmt::format("{} pad convention", pad_convention_name(*plan.request.kernel_pads))
                               : "both pad conventions";
  if (sure_total > 0) {
    return Finding{Severity::Bad, "intermediate-pad-drops-units",
                   fmt::format("intermediate_pad = I_p - I/tp hides {} loaded intermediate units ({}; {}): the kernel "
                               "treats real units as padding (LAYOUTS.md §4)",
                               sure_total, sure, convention)};
  }
  if (exact_total > 0 && !plan.request.kernel_pads) {
    const bool flydsl = plan.dispatch.decode.flydsl || plan.dispatch.prefill.flydsl;
    return Finding{Severity::Warning, "intermediate-pad-kernel-dependent",
                   fmt::format("intermediate_pad = I_p - I/tp hides {} loaded units from a kernel that takes the pad "
                               "exactly ({}; AITER's FlyDSL kernels, the vLLM #44679 class) but none from AITER's "
                               "CK-tile kernels, which round it down to granules (// 64, // 128); which one runs is "
                               "AITER's dispatcher's choice (aiter/fused_moe.py get_2stage_cfgs). As read in AITER "
                               "e4048607: {}; pin the kernel with --kernel-pad-convention (LAYOUTS.md §4)",
                               exact_total, exact_only,
                               flydsl ? "FlyDSL runs prefill batches and gets the pads as 0 when a bias is given "
                                        "(GPT-OSS has biases), so that build drops none; a build that passes the pad "
                                        "to FlyDSL drops them in prefill"
                                      : "CK-tile runs at every token count here, so that build drops none")};
  }
  return std::nullopt;
}

}  // namespace

Verdict check_plan(const Plan& plan, const std::vector<matrix::Scenario>& scenarios) {
  Verdict v;
  const matrix::Combination& c = plan.combo;

  matrix::Combination layout_only = c;
  layout_only.padding = matrix::Padding::Correct;
  const matrix::Derivation d = matrix::derive(layout_only, consistency_geometry());
  if (!d.consistent) {
    const std::string summary = mismatch_summary(c);
    v.findings.push_back({Severity::Bad, "layout-mismatch",
                          fmt::format("the kernel will not read the bytes the loader wrote: {}{}(first wrong element "
                                      "on a test shape: {})",
                                      summary, summary.empty() ? "" : " ", d.reason)});
  }

  if (c.gate_mode == GateMode::Separated && plan.moe_tp >= 2) {
    v.findings.push_back(
        {Severity::Bad, "separated-at-tp",
         fmt::format("gate mode separated at MoE tp {}: the FlyDSL fp4x2 separated-mode kernel is wrong at TP >= 2 "
                     "(GSM8K ~0.04, sgl-project/sglang#27201); use {}=1 (interleave)",
                     plan.moe_tp, kGuInterleaveEnv)});
  }

  if (auto pad = pad_finding(plan)) v.findings.push_back(std::move(*pad));

  for (const auto& note : plan.notes) v.findings.push_back({Severity::Warning, "unverified", note});

  if (!scenarios.empty()) {
    for (const RankRow& r : plan.ranks) {
      const matrix::Geometry g{.hidden = plan.request.model.hidden, .hidden_padded = plan.hidden_padded,
                               .loaded_units = r.loaded, .intermediate_padded = r.intermediate_padded,
                               .units_over_tp = r.units_over_tp, .experts = plan.experts_per_rank};
      // The pad a rank effectively sees: where it hides nothing, it is as good as the correct one.
      matrix::Combination effective = c;
      effective.padding = dropped_units(plan, r) > 0 ? matrix::Padding::FromIOverTp : matrix::Padding::Correct;
      for (auto& name : matrix::realised_scenarios(scenarios, effective, g)) {
        if (std::find(v.scenarios.begin(), v.scenarios.end(), name) == v.scenarios.end()) v.scenarios.push_back(name);
      }
    }
  }
  return v;
}

}  // namespace mxg::preflight
