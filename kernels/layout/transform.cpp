// Dispatch from a TransformSpec to the transform functions.
#include "kernels/layout/transform.hpp"

#include <array>

#include <fmt/format.h>

#include "kernels/layout/geometry.hpp"
#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::layout {

namespace {
constexpr std::array<std::string_view, 5> kTransformNames = {"deinterleave", "interleave", "shuffle-weight",
                                                             "shuffle-scale", "tp-slice"};
}  // namespace

std::string_view transform_name(Transform t) { return kTransformNames[static_cast<std::size_t>(t)]; }

std::optional<Transform> parse_transform(std::string_view name) {
  for (std::size_t i = 0; i < kTransformNames.size(); ++i) {
    if (kTransformNames[i] == name) return static_cast<Transform>(i);
  }
  return std::nullopt;
}

ExpertTensor tp_kind(const TransformSpec& spec, std::string_view tensor_name, std::string_view label) {
  if (spec.kind) return *spec.kind;
  if (auto k = expert_tensor_from_name(tensor_name)) return *k;
  input_error(label, "tp-slice cannot tell which expert tensor this is from its name (it does not end in "
                     "gate_up_proj_blocks/_scales/_bias or down_proj_blocks/_scales/_bias); give --kind");
}

ExpertRows original_scale_rows(const TransformSpec& spec, std::string_view label) {
  if (!spec.original_rows || !spec.original_cols) {
    input_error(label, "the inverse scale shuffle needs the unpadded geometry: --rows (per expert) and --cols");
  }
  const ExpertRows g{spec.experts.value_or(1), *spec.original_rows, *spec.original_cols};
  require_positive(label, "experts", g.experts);
  require_positive(label, "rows", g.rows);
  require_positive(label, "cols", g.row_bytes);
  return g;
}

Tensor apply_transform(const TransformSpec& spec, const Tensor& t, std::string_view tensor_name,
                       std::string_view label, Threads threads) {
  switch (spec.transform) {
    case Transform::deinterleave:
    case Transform::interleave:
      if ((spec.transform == Transform::deinterleave) != spec.inverse) {
        return deinterleave_rows(t, spec.experts, label, threads);
      }
      return interleave_rows(t, spec.experts, label, threads);
    case Transform::shuffle_weight:
      return spec.inverse ? unshuffle_weight(t, spec.shuffle, spec.experts, label, threads)
                          : shuffle_weight(t, spec.shuffle, spec.experts, label, threads);
    case Transform::shuffle_scale:
      return spec.inverse ? unshuffle_scale(t, spec.shuffle, original_scale_rows(spec, label), label, threads)
                          : shuffle_scale(t, spec.shuffle, spec.experts, label, threads);
    case Transform::tp_slice: {
      if (spec.inverse) input_error(label, "tp-slice drops the other ranks' units, so it has no inverse");
      const ExpertTensor kind = tp_kind(spec, tensor_name, label);
      const TpPlan plan = tp_plan_for_tensor(kind, t.shape(), spec.tp, spec.rank, spec.dims, label);
      return tp_slice(t, kind, plan, label, threads);
    }
  }
  input_error(label, "unknown transform");
}

}  // namespace mxg::layout
