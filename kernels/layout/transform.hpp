// One named layout transform with every option it takes, applied to a tensor: the single entry
// point `mxguard layout apply` and `layout explain` use, so both read shapes the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/layout/geometry.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/layout/shuffle_options.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

enum class Transform : std::uint8_t { deinterleave, interleave, shuffle_weight, shuffle_scale, tp_slice };
// CLI spelling: "deinterleave", "interleave", "shuffle-weight", "shuffle-scale", "tp-slice".
std::string_view transform_name(Transform t);
std::optional<Transform> parse_transform(std::string_view name);

struct TransformSpec {
  Transform transform = Transform::deinterleave;
  bool inverse = false;                 // run the exact inverse (tp-slice has none)
  std::optional<std::int64_t> experts;  // E of stacked 2-D [E*rows, cols] tensors
  ShuffleOptions shuffle;               // shuffle-weight / shuffle-scale
  // shuffle-scale inverse: the unpadded geometry, rows per expert and cols (experts from `experts`,
  // default 1).
  std::optional<std::int64_t> original_rows, original_cols;
  std::int64_t tp = 1, rank = 0;     // tp-slice
  std::optional<ExpertTensor> kind;  // tp-slice; default: from the tensor name's suffix
  TpDims dims;                       // tp-slice I / H where the shape does not fix them
};

// The expert-tensor kind tp-slice uses: spec.kind, else the tensor name's suffix, else InputError.
ExpertTensor tp_kind(const TransformSpec& spec, std::string_view tensor_name, std::string_view label);
// The unpadded geometry an inverse scale shuffle restores (InputError without rows / cols).
ExpertRows original_scale_rows(const TransformSpec& spec, std::string_view label);

// Applies the transform (or its inverse); InputError naming `label` and the dimension on bad input.
Tensor apply_transform(const TransformSpec& spec, const Tensor& t, std::string_view tensor_name,
                       std::string_view label, Threads threads = {});

}  // namespace mxg::layout
