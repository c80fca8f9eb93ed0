// Enumeration of the chains whose output fits a dump's size and shape.
#include "harness/diagnose/weights/candidates.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/geometry.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::diagnose::weights {

namespace lm = mxg::layout;
using lm::ExpertTensor;

namespace {

bool is_float(DType t) { return t == DType::F16 || t == DType::BF16 || t == DType::F32 || t == DType::F64; }

// True when the library's own precondition check accepts the shape (the same checks the
// transforms run, so the search never proposes a chain the library cannot build).
template <class Check>
bool library_accepts(Check&& check) {
  try {
    check();
    return true;
  } catch (const InputError&) {
    return false;
  }
}

Slice unsliced(ExpertTensor kind, const CheckpointGeometry& cg) {
  Slice s;
  s.window = lm::TpWindow{cg.rows, cg.cols, cg.rows, cg.cols, 0, cg.rows, 0, cg.cols};
  s.unit_start = 0;
  s.unit_end = cg.intermediate;
  s.intermediate = s.intermediate_padded = s.shard_units = cg.intermediate;
  s.hidden = s.hidden_padded = cg.hidden;
  (void)kind;
  return s;
}

using WindowKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                             std::int64_t, std::int64_t, bool>;
WindowKey key_of(const lm::TpWindow& w, bool zeroed) {
  return {w.src_rows, w.src_row_bytes, w.dst_rows, w.dst_row_bytes, w.row_begin, w.row_end, w.byte_begin,
          w.byte_end, zeroed};
}

Slice sliced_from(const lm::TpPlan& plan, const lm::TpWindow& w, bool zeroed) {
  Slice s;
  s.sliced = true;
  s.window = w;
  s.unit_start = plan.unit_start;
  s.unit_end = plan.unit_end;
  s.intermediate = plan.intermediate;
  s.hidden = plan.hidden;
  s.intermediate_padded = plan.intermediate_padded;
  s.hidden_padded = plan.hidden_padded;
  s.shard_units = plan.shard_units;
  s.bias_zeroed = zeroed;
  return s;
}

// The down bias does not depend on tp at all: rank 0 keeps it, every other rank zeroes it. Two
// slices, whatever the tp (only a given tp names its ranks).
std::vector<Slice> down_bias_slices(const CheckpointGeometry& cg, const SpaceLimits& limits, std::string_view label) {
  std::vector<Slice> out;
  const std::int64_t tp = limits.tp.value_or(2);
  for (const bool zeroed : {false, true}) {
    if (zeroed && tp < 2) continue;
    const lm::TpPlan plan = lm::make_tp_plan(cg.intermediate, cg.hidden, std::max<std::int64_t>(tp, 1),
                                             zeroed ? 1 : 0, label);
    Slice s = sliced_from(plan, lm::tp_window(ExpertTensor::down_proj_bias, plan, 1), zeroed);
    s.any_tp = !limits.tp;
    if (limits.tp) {
      for (std::int64_t r = zeroed ? 1 : 0; r < (zeroed ? tp : 1); ++r) s.ranks.push_back({tp, r});
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Slice> build_slices(ExpertTensor kind, const CheckpointGeometry& cg, const SpaceLimits& limits,
                                std::string_view label) {
  std::vector<Slice> out;
  if (!limits.tp || *limits.tp == 1) out.push_back(unsliced(kind, cg));
  if (kind == ExpertTensor::down_proj_bias) {
    for (Slice& s : down_bias_slices(cg, limits, label)) out.push_back(std::move(s));
    return out;
  }
  std::vector<std::int64_t> tps;
  if (limits.tp) {
    tps.push_back(*limits.tp);
  } else {
    for (std::int64_t tp = 1; tp <= std::max<std::int64_t>(1, cg.intermediate / lm::kMxBlock); ++tp) tps.push_back(tp);
  }
  std::map<WindowKey, std::size_t> index;
  for (const std::int64_t tp : tps) {
    for (std::int64_t rank = 0; rank < tp; ++rank) {
      lm::TpPlan plan;
      if (!library_accepts([&] { plan = lm::make_tp_plan(cg.intermediate, cg.hidden, tp, rank, label); })) continue;
      if (plan.units_loaded == 0) continue;  // an empty slice is all padding: nothing to identify it by
      const lm::TpWindow w = lm::tp_window(kind, plan, 1);
      const auto [it, inserted] = index.try_emplace(key_of(w, false), out.size());
      if (inserted) out.push_back(sliced_from(plan, w, false));
      out[it->second].ranks.push_back({tp, rank});
    }
  }
  return out;
}

std::vector<Shuffle> shuffles_for(ExpertTensor kind, std::int64_t rows, std::int64_t cols, std::string_view label) {
  std::vector<Shuffle> out{Shuffle::none};
  if (is_bias(kind)) return out;
  const lm::ExpertRows g{1, rows, cols};
  const bool gate_up = is_gate_up(kind);
  if (is_blocks(kind)) {
    if (library_accepts([&] { lm::check_weight_shuffle(g, {lm::TileMode::separated, gate_up}, label); })) {
      out.push_back(Shuffle::separated);
    }
    // down_proj: interleaved tiles without gate_up are the separated formula (searched once).
    if (gate_up && library_accepts([&] { lm::check_weight_shuffle(g, {lm::TileMode::interleaved, true}, label); })) {
      out.push_back(Shuffle::interleaved);
    }
    return out;
  }
  out.push_back(Shuffle::separated);
  if (library_accepts([&] { lm::check_scale_shuffle(g, {lm::TileMode::interleaved, gate_up}, label); })) {
    out.push_back(Shuffle::interleaved);
  }
  return out;
}

// Dump expert counts E' for which the chain's output has `elements` elements.
std::vector<std::int64_t> expert_counts(ExpertTensor kind, Shuffle shuffle, std::int64_t rows, std::int64_t cols,
                                        std::int64_t elements, std::int64_t max_experts) {
  std::vector<std::int64_t> out;
  if (is_scales(kind) && shuffle == Shuffle::separated) {
    const std::int64_t padded_cols = lm::scale_padded_cols(cols);
    if (elements % padded_cols != 0) return out;
    const std::int64_t padded_rows = elements / padded_cols;
    for (std::int64_t e = 1; e <= max_experts; ++e) {
      if (lm::separated_scale_padded_rows(e * rows) == padded_rows) out.push_back(e);
    }
    return out;
  }
  const std::int64_t per_expert = rows * (is_scales(kind) && shuffle != Shuffle::none ? lm::scale_padded_cols(cols) : cols);
  if (per_expert > 0 && elements % per_expert == 0) {
    const std::int64_t e = elements / per_expert;
    if (e >= 1 && e <= max_experts) out.push_back(e);
  }
  return out;
}

// The dump's shape must agree with the chain where it says anything: [E', rows, ...] for rank >= 3;
// rank 2 is [E' * rows (padded), cols] or [E', ...].
bool shape_fits(ExpertTensor kind, Shuffle shuffle, const Shape& shape, std::int64_t experts, std::int64_t rows,
                std::int64_t cols) {
  if (shape.size() >= 3) return shape[0] == experts && shape[1] == rows;
  if (shape.size() != 2) return true;
  if (shape[0] == experts || shape[0] == experts * rows) return true;
  return is_scales(kind) && shuffle == Shuffle::separated &&
         shape[0] == lm::separated_scale_padded_rows(experts * rows) && shape[1] == lm::scale_padded_cols(cols);
}

}  // namespace

CheckpointGeometry checkpoint_geometry(ExpertTensor kind, const Tensor& t, std::string_view label) {
  const auto name = lm::expert_tensor_name(kind);
  if (is_bias(kind)) {
    if (!is_float(t.dtype())) {
      lm::input_error(label, fmt::format("{} has dtype {}; a bias must be F16, BF16, F32 or F64", name,
                                         dtype_name(t.dtype())));
    }
  } else {
    lm::require_byte_dtype(t, label, fmt::format("the {} search", name));
  }
  const lm::TpDims dims = lm::tp_dims_from_shape(kind, t.shape(), label);
  CheckpointGeometry g;
  g.experts = t.dim(0);
  g.rows = t.dim(1);
  g.cols = 1;
  for (std::size_t i = 2; i < t.rank(); ++i) g.cols *= t.dim(i);
  g.intermediate = dims.intermediate.value_or(dims.hidden.value_or(0));
  g.hidden = dims.hidden.value_or(g.intermediate);
  lm::require_multiple(label, fmt::format("{} intermediate size I", name), g.intermediate, lm::kMxBlock,
                       "MXFP4 tp slicing");
  lm::require_multiple(label, fmt::format("{} hidden size H", name), g.hidden, lm::kMxBlock, "MXFP4 tp slicing");
  return g;
}

std::int64_t dump_elements(ExpertTensor kind, const Tensor& dump) {
  return is_bias(kind) ? dump.numel() : static_cast<std::int64_t>(dump.nbytes());
}

std::vector<Chain> enumerate_chains(ExpertTensor kind, const Tensor& checkpoint, const Tensor& dump,
                                    const SpaceLimits& limits, std::string_view checkpoint_label,
                                    std::string_view dump_label) {
  const CheckpointGeometry cg = checkpoint_geometry(kind, checkpoint, checkpoint_label);
  if (is_bias(kind) && !is_float(dump.dtype())) {
    lm::input_error(dump_label, fmt::format("dtype {} cannot hold a bias (F16, BF16, F32 or F64)",
                                            dtype_name(dump.dtype())));
  }
  if (dump.numel() == 0) lm::input_error(dump_label, "the dump tensor is empty");
  if (limits.tp && *limits.tp < 1) lm::input_error(dump_label, fmt::format("tp = {} must be at least 1", *limits.tp));
  std::optional<std::int64_t> want_experts;
  if (limits.ep) {
    if (*limits.ep < 1 || cg.experts % *limits.ep != 0) {
      lm::input_error(dump_label, fmt::format("ep = {} does not divide the checkpoint's {} experts", *limits.ep,
                                              cg.experts));
    }
    want_experts = cg.experts / *limits.ep;
  }
  const std::int64_t elements = dump_elements(kind, dump);
  std::vector<Chain> out;
  for (const Slice& slice : build_slices(kind, cg, limits, checkpoint_label)) {
    const std::int64_t rows = slice.window.dst_rows, cols = slice.window.dst_row_bytes;
    const std::vector<bool> row_preps = is_gate_up(kind) && rows % 2 == 0 ? std::vector<bool>{false, true}
                                                                          : std::vector<bool>{false};
    for (const bool deinterleave : row_preps) {
      for (const Shuffle shuffle : shuffles_for(kind, rows, cols, checkpoint_label)) {
        for (const std::int64_t e : expert_counts(kind, shuffle, rows, cols, elements, cg.experts)) {
          if (want_experts && e != *want_experts) continue;
          // down_proj scales: interleaved equals separated unless the stacked rows need padding.
          if (is_scales(kind) && !is_gate_up(kind) && shuffle == Shuffle::interleaved &&
              e * rows % lm::kScaleRowPadding == 0) {
            continue;
          }
          if (!shape_fits(kind, shuffle, dump.shape(), e, rows, cols)) continue;
          Chain c;
          c.kind = kind;
          c.checkpoint_experts = cg.experts;
          c.experts.assign(static_cast<std::size_t>(e), -1);
          c.slice = slice;
          c.deinterleave = deinterleave;
          c.shuffle = shuffle;
          c.checkpoint_dtype = checkpoint.dtype();
          c.dump_dtype = dump.dtype();
          out.push_back(std::move(c));
        }
      }
    }
  }
  return out;
}

std::vector<std::string> example_dump_shapes(ExpertTensor kind, const Tensor& checkpoint, const SpaceLimits& limits,
                                             std::string_view label) {
  const CheckpointGeometry cg = checkpoint_geometry(kind, checkpoint, label);
  const std::string experts = limits.ep ? fmt::format("{}", cg.experts / std::max<std::int64_t>(1, *limits.ep))
                                        : fmt::format("E'≤{}", cg.experts);
  std::vector<std::int64_t> tps = limits.tp ? std::vector<std::int64_t>{*limits.tp} : std::vector<std::int64_t>{1, 2, 4, 8};
  std::vector<std::string> out;
  for (const std::int64_t tp : tps) {
    lm::TpPlan plan;
    if (!library_accepts([&] { plan = lm::make_tp_plan(cg.intermediate, cg.hidden, tp, 0, label); })) continue;
    const lm::TpWindow w = lm::tp_window(kind, plan, 1);
    out.push_back(is_bias(kind) ? fmt::format("tp={}: [{}, {}]", tp, experts, w.dst_rows)
                                : fmt::format("tp={}: [{}, {}, {}]", tp, experts, w.dst_rows, w.dst_row_bytes));
  }
  return out;
}

}  // namespace mxg::diagnose::weights
