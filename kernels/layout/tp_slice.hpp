// Tensor-parallel slicing and padding of GPT-OSS checkpoint expert tensors (LAYOUTS.md §4): what
// rank r of tp loads from gate_up_proj_* / down_proj_* into its zeroed, padded buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "kernels/layout/index_maps.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

// The six per-layer expert tensors of the checkpoint, named by their HF suffix.
enum class ExpertTensor : std::uint8_t {
  gate_up_proj_blocks,  // U8 [E, 2I, H/32, 16] (or [E, 2I, H/2])
  gate_up_proj_scales,  // U8 [E, 2I, H/32]
  gate_up_proj_bias,    // any dtype [E, 2I]
  down_proj_blocks,     // U8 [E, H, I/32, 16] (or [E, H, I/2])
  down_proj_scales,     // U8 [E, H, I/32]
  down_proj_bias,       // any dtype [E, H]
};
std::string_view expert_tensor_name(ExpertTensor kind);
// Exact kind name ("down_proj_scales").
std::optional<ExpertTensor> parse_expert_tensor(std::string_view kind_name);
// The kind whose name the tensor name ends with ("model.layers.3.mlp.experts.down_proj_bias").
std::optional<ExpertTensor> expert_tensor_from_name(std::string_view tensor_name);

// tp_plan() with its preconditions checked: I and H positive multiples of 32, tp >= 1,
// 0 <= rank < tp, and the rank's slice fitting its padded buffer. InputError names `label`.
TpPlan make_tp_plan(std::int64_t intermediate, std::int64_t hidden, std::int64_t tp, std::int64_t rank,
                    std::string_view label);

// The rectangle one expert contributes: source rows [row_begin, row_end) and bytes
// [byte_begin, byte_end) of each row land at row 0, byte 0 of the zeroed padded expert.
struct TpWindow {
  std::int64_t src_rows = 0, src_row_bytes = 0;  // checkpoint expert
  std::int64_t dst_rows = 0, dst_row_bytes = 0;  // padded expert on this rank
  std::int64_t row_begin = 0, row_end = 0;
  std::int64_t byte_begin = 0, byte_end = 0;
};
// `element_size` is the dtype size (1 for blocks and scales, 2 for BF16 biases).
TpWindow tp_window(ExpertTensor kind, const TpPlan& plan, std::size_t element_size);

// Shape of the padded result for `experts` experts: [E, 2I_p, H_p/2], [E, 2I_p, H_p/32], [E, 2I_p],
// [E, H_p, I_p/2], [E, H_p, I_p/32], [E, H_p].
Shape tp_slice_shape(ExpertTensor kind, const TpPlan& plan, std::int64_t experts);

// The I and H a checkpoint tensor's shape fixes (a bias fixes only one of them).
struct TpDims {
  std::optional<std::int64_t> intermediate, hidden;
};
TpDims tp_dims_from_shape(ExpertTensor kind, const Shape& shape, std::string_view label);
// Plan for slicing a tensor of this kind and shape: I and H from the shape, where `given` names
// one it must agree. A bias fixes only one of them; the other does not change its slice and is
// set equal to the known one.
TpPlan tp_plan_for_tensor(ExpertTensor kind, const Shape& shape, std::int64_t tp, std::int64_t rank, TpDims given,
                          std::string_view label);

// Raw path: `src` holds `experts` checkpoint experts of the window's source geometry, `dst` is
// filled with the padded experts (zeros outside the window).
void tp_slice(std::span<const std::byte> src, std::span<std::byte> dst, std::int64_t experts,
              const TpWindow& window, Threads threads = {});
// Validating wrapper: checks the tensor against the plan's I and H, returns tp_slice_shape().
Tensor tp_slice(const Tensor& t, ExpertTensor kind, const TpPlan& plan, std::string_view label,
                Threads threads = {});

}  // namespace mxg::layout
