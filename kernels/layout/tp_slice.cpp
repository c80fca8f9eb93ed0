// Tensor-parallel slicing: the per-kind windows of LAYOUTS.md §4 and the copy into padded buffers.
#include "kernels/layout/tp_slice.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "kernels/layout/geometry.hpp"

namespace mxg::layout {

namespace {

constexpr std::array<std::string_view, 6> kKindNames = {"gate_up_proj_blocks", "gate_up_proj_scales",
                                                         "gate_up_proj_bias",   "down_proj_blocks",
                                                         "down_proj_scales",    "down_proj_bias"};

bool is_bias(ExpertTensor k) { return k == ExpertTensor::gate_up_proj_bias || k == ExpertTensor::down_proj_bias; }
bool is_gate_up(ExpertTensor k) {
  return k == ExpertTensor::gate_up_proj_blocks || k == ExpertTensor::gate_up_proj_scales ||
         k == ExpertTensor::gate_up_proj_bias;
}

bool is_scales(ExpertTensor k) {
  return k == ExpertTensor::gate_up_proj_scales || k == ExpertTensor::down_proj_scales;
}

// The checkpoint expert geometry a shape holds, once its rank fits its kind.
ExpertRows kind_rows(ExpertTensor kind, const Shape& shape, std::size_t element_size, std::string_view label) {
  const std::size_t rank = shape.size();
  const bool fits = is_bias(kind) ? rank == 2 : is_scales(kind) ? rank == 3 : rank == 3 || rank == 4;
  if (!fits) {
    const std::string_view expected = is_bias(kind)     ? "2-D [E, rows]"
                                      : is_scales(kind) ? "3-D [E, rows, cols]"
                                                        : "3-D [E, rows, K/2] or 4-D [E, rows, K/32, 16]";
    input_error(label, fmt::format("{} must be {} but has shape {}", expert_tensor_name(kind), expected,
                                   shape_string(shape)));
  }
  return expert_rows(shape, element_size, std::nullopt, label);
}

}  // namespace

std::string_view expert_tensor_name(ExpertTensor kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

std::optional<ExpertTensor> parse_expert_tensor(std::string_view kind_name) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == kind_name) return static_cast<ExpertTensor>(i);
  }
  return std::nullopt;
}

std::optional<ExpertTensor> expert_tensor_from_name(std::string_view tensor_name) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (tensor_name.ends_with(kKindNames[i])) return static_cast<ExpertTensor>(i);
  }
  return std::nullopt;
}

TpPlan make_tp_plan(std::int64_t intermediate, std::int64_t hidden, std::int64_t tp, std::int64_t rank,
                    std::string_view label) {
  require_multiple(label, "intermediate size I", intermediate, kMxBlock, "MXFP4 tp slicing");
  require_multiple(label, "hidden size H", hidden, kMxBlock, "MXFP4 tp slicing");
  if (tp < 1) input_error(label, fmt::format("tp = {} must be at least 1", tp));
  if (rank < 0 || rank >= tp) input_error(label, fmt::format("rank = {} must be in [0, {})", rank, tp));
  const TpPlan plan = tp_plan(intermediate, hidden, tp, rank);
  if (plan.units_loaded > plan.intermediate_padded) {
    input_error(label, fmt::format("rank {} of tp {} loads {} intermediate units but its padded buffer holds "
                                   "I_p = {} (I = {})",
                                   rank, tp, plan.units_loaded, plan.intermediate_padded, intermediate));
  }
  return plan;
}

TpWindow tp_window(ExpertTensor kind, const TpPlan& p, std::size_t element_size) {
  const auto el = static_cast<std::int64_t>(element_size);
  TpWindow w;
  switch (kind) {
    case ExpertTensor::gate_up_proj_blocks:
      w = {2 * p.intermediate, p.hidden / 2, 2 * p.intermediate_padded, p.hidden_padded / 2};
      break;
    case ExpertTensor::gate_up_proj_scales:
      w = {2 * p.intermediate, p.hidden / kMxBlock, 2 * p.intermediate_padded, p.hidden_padded / kMxBlock};
      break;
    case ExpertTensor::gate_up_proj_bias:
      w = {2 * p.intermediate, el, 2 * p.intermediate_padded, el};
      break;
    case ExpertTensor::down_proj_blocks:
      w = {p.hidden, p.intermediate / 2, p.hidden_padded, p.intermediate_padded / 2};
      w.byte_begin = p.unit_start / 2;
      w.byte_end = p.unit_end / 2;
      break;
    case ExpertTensor::down_proj_scales:
      w = {p.hidden, p.intermediate / kMxBlock, p.hidden_padded, p.intermediate_padded / kMxBlock};
      w.byte_begin = p.unit_start / kMxBlock;
      w.byte_end = p.unit_end / kMxBlock;
      break;
    case ExpertTensor::down_proj_bias:
      w = {p.hidden, el, p.hidden_padded, el};
      break;
  }
  if (is_gate_up(kind)) {  // w13 rows 2*start .. 2*end: each unit is a gate row and an up row
    w.row_begin = 2 * p.unit_start;
    w.row_end = 2 * p.unit_end;
    w.byte_end = w.src_row_bytes;
  } else {
    w.row_end = w.src_rows;
  }
  if (kind == ExpertTensor::down_proj_bias) {
    w.byte_end = el;
    if (p.rank != 0) w.row_end = 0;  // the all-reduce adds the bias once, from rank 0
  }
  return w;
}

Shape tp_slice_shape(ExpertTensor kind, const TpPlan& plan, std::int64_t experts) {
  const TpWindow w = tp_window(kind, plan, 1);
  if (is_bias(kind)) return {experts, w.dst_rows};
  return {experts, w.dst_rows, w.dst_row_bytes};
}

TpDims tp_dims_from_shape(ExpertTensor kind, const Shape& shape, std::string_view label) {
  const ExpertRows g = kind_rows(kind, shape, 1, label);
  const auto name = expert_tensor_name(kind);
  TpDims d;
  if (is_gate_up(kind)) {
    require_multiple(label, fmt::format("{} rows (2*I)", name), g.rows, 2, "tp slicing");
    d.intermediate = g.rows / 2;
  } else {
    d.hidden = g.rows;
  }
  switch (kind) {
    case ExpertTensor::gate_up_proj_blocks: d.hidden = g.row_bytes * 2; break;
    case ExpertTensor::gate_up_proj_scales: d.hidden = g.row_bytes * kMxBlock; break;
    case ExpertTensor::down_proj_blocks: d.intermediate = g.row_bytes * 2; break;
    case ExpertTensor::down_proj_scales: d.intermediate = g.row_bytes * kMxBlock; break;
    case ExpertTensor::gate_up_proj_bias:
    case ExpertTensor::down_proj_bias: break;
  }
  return d;
}

TpPlan tp_plan_for_tensor(ExpertTensor kind, const Shape& shape, std::int64_t tp, std::int64_t rank, TpDims given,
                          std::string_view label) {
  const TpDims from_shape = tp_dims_from_shape(kind, shape, label);
  auto merge = [&](std::optional<std::int64_t> shape_value, std::optional<std::int64_t> given_value,
                   std::string_view what) -> std::optional<std::int64_t> {
    if (shape_value && given_value && *shape_value != *given_value) {
      input_error(label, fmt::format("{} = {} given, but shape {} of {} means {} = {}", what, *given_value,
                                     shape_string(shape), expert_tensor_name(kind), what, *shape_value));
    }
    return shape_value ? shape_value : given_value;
  };
  std::optional<std::int64_t> intermediate = merge(from_shape.intermediate, given.intermediate, "I");
  std::optional<std::int64_t> hidden = merge(from_shape.hidden, given.hidden, "H");
  if (!intermediate) intermediate = hidden;
  if (!hidden) hidden = intermediate;
  return make_tp_plan(*intermediate, *hidden, tp, rank, label);
}

void tp_slice(std::span<const std::byte> src, std::span<std::byte> dst, std::int64_t experts, const TpWindow& w,
              Threads threads) {
  require_buffer_size(src.size(), experts * w.src_rows * w.src_row_bytes, "source");
  require_buffer_size(dst.size(), experts * w.dst_rows * w.dst_row_bytes, "destination");
  const auto copy_bytes = static_cast<std::size_t>(std::max<std::int64_t>(0, w.byte_end - w.byte_begin));
  const std::int64_t copied_rows = copy_bytes == 0 ? 0 : std::max<std::int64_t>(0, w.row_end - w.row_begin);
  const auto row_bytes = static_cast<std::size_t>(w.dst_row_bytes);
  // Each destination byte is written once, by the thread that owns its expert: the slice, then the
  // zero padding after it in the row, then the zero rows (a memset of the whole buffer first would
  // write it twice, and serially).
  parallel_for(experts, static_cast<std::int64_t>(dst.size()), threads, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      const std::byte* s = src.data() + e * w.src_rows * w.src_row_bytes;
      std::byte* d = dst.data() + e * w.dst_rows * w.dst_row_bytes;
      for (std::int64_t r = 0; r < copied_rows; ++r) {
        std::byte* row = d + r * w.dst_row_bytes;
        std::memcpy(row, s + (w.row_begin + r) * w.src_row_bytes + w.byte_begin, copy_bytes);
        std::memset(row + copy_bytes, 0, row_bytes - copy_bytes);
      }
      std::memset(d + copied_rows * w.dst_row_bytes, 0, static_cast<std::size_t>(w.dst_rows - copied_rows) * row_bytes);
    }
  });
}

Tensor tp_slice(const Tensor& t, ExpertTensor kind, const TpPlan& plan, std::string_view label, Threads threads) {
  if (!is_bias(kind)) require_byte_dtype(t, label, "tp slicing of blocks and scales");
  const ExpertRows g = kind_rows(kind, t.shape(), dtype_size(t.dtype()), label);
  const TpWindow w = tp_window(kind, plan, dtype_size(t.dtype()));
  const auto name = expert_tensor_name(kind);
  if (g.rows != w.src_rows) {
    input_error(label, fmt::format("{} rows = {} but I = {}, H = {} need {}", name, g.rows, plan.intermediate,
                                   plan.hidden, w.src_rows));
  }
  if (g.row_bytes != w.src_row_bytes) {
    input_error(label, fmt::format("{} row bytes = {} but I = {}, H = {} need {}", name, g.row_bytes,
                                   plan.intermediate, plan.hidden, w.src_row_bytes));
  }
  Tensor out(t.dtype(), tp_slice_shape(kind, plan, g.experts));
  tp_slice(t.bytes(), out.mutable_bytes(), g.experts, w, threads);
  return out;
}

}  // namespace mxg::layout
