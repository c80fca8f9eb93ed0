// Canonical rank slicing (LAYOUTS.md §4, unpadded) and the reference call.
#include "harness/matrix/reference_run.hpp"

#include <cstring>

#include "reference/moe_forward.hpp"

namespace mxg::matrix {

namespace {
// Rows [row_begin, row_end) of every expert of a tensor whose dim 1 is rows; the rest of a row
// (everything after dim 1) is copied whole.
Tensor slice_rows(const Tensor& t, std::int64_t row_begin, std::int64_t row_end) {
  Shape shape = t.shape();
  const std::int64_t experts = shape[0], rows = shape[1];
  const std::size_t row_bytes = t.nbytes() / static_cast<std::size_t>(experts * rows);
  shape[1] = row_end - row_begin;
  Tensor out(t.dtype(), shape);
  auto dst = out.mutable_bytes();
  const auto src = t.bytes();
  for (std::int64_t e = 0; e < experts; ++e) {
    std::memcpy(dst.data() + static_cast<std::size_t>(e * shape[1]) * row_bytes,
                src.data() + static_cast<std::size_t>(e * rows + row_begin) * row_bytes,
                static_cast<std::size_t>(shape[1]) * row_bytes);
  }
  return out;
}

// Columns [col_begin, col_end) of dim 2 of a [E, rows, cols, ...] tensor.
Tensor slice_cols(const Tensor& t, std::int64_t col_begin, std::int64_t col_end) {
  Shape shape = t.shape();
  const std::int64_t outer = shape[0] * shape[1], cols = shape[2];
  const std::size_t col_bytes = t.nbytes() / static_cast<std::size_t>(outer * cols);
  shape[2] = col_end - col_begin;
  Tensor out(t.dtype(), shape);
  auto dst = out.mutable_bytes();
  const auto src = t.bytes();
  const std::size_t out_row = static_cast<std::size_t>(shape[2]) * col_bytes;
  for (std::int64_t r = 0; r < outer; ++r) {
    std::memcpy(dst.data() + static_cast<std::size_t>(r) * out_row,
                src.data() + (static_cast<std::size_t>(r * cols + col_begin)) * col_bytes, out_row);
  }
  return out;
}
}  // namespace

Tensor reference_output(const CanonicalInputs& in, const layout::TpPlan& plan, const ShapeSpec& shape) {
  const std::int64_t start = plan.unit_start, end = plan.unit_end;
  ref::MoeWeights w;
  w.w13_blocks = slice_rows(in.gate_up_blocks, 2 * start, 2 * end);
  w.w13_scales = slice_rows(in.gate_up_scales, 2 * start, 2 * end);
  w.w13_bias = slice_rows(in.gate_up_bias, 2 * start, 2 * end);
  w.w2_blocks = slice_cols(in.down_blocks, start / 32, end / 32);  // [E, H, I/32, 16]: 32 units a block
  w.w2_scales = slice_cols(in.down_scales, start / 32, end / 32);
  w.w2_bias = in.down_bias;
  if (plan.rank != 0) w.w2_bias = Tensor(in.down_bias.dtype(), in.down_bias.shape());  // zero

  ref::MoeConfig c;
  c.hidden = shape.hidden;
  c.intermediate = end - start;
  c.experts = in.gate_up_blocks.dim(0);
  c.topk = shape.topk;
  c.swiglu_limit = shape.swiglu_limit;
  c.alpha = shape.alpha;
  const auto routing = ref::routing_from_tensors(in.topk_ids, in.topk_weights, in.hidden.dim(0), c.topk, c.experts, shape.name);
  ref::ForwardOptions options;
  options.threads = 0;
  return ref::run_reference(c, w, in.hidden, routing, options, shape.name + " hidden").y;
}

}  // namespace mxg::matrix
