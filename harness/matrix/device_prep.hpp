// The experiment's loader: turns one case instance's canonical checkpoint tensors into the device
// buffers a serving stack would hand the kernel under a combination (TP slice + pad, row prep,
// weight and scale shuffles), with NaN-poisoned padding, using kernels/layout's transforms.
#pragma once

#include <cstdint>

#include "harness/matrix/canonical_inputs.hpp"
#include "harness/matrix/derivation.hpp"
#include "harness/matrix/dimensions.hpp"
#include "kernels/backend/fused_moe.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::matrix {

// This rank's TP-sliced, padded checkpoint tensors (interleaved rows, before any prep); shared by
// every combination of an instance.
struct RankSlice {
  layout::TpPlan plan;
  Tensor w13, w13_scale, w13_bias;  // [E', 2·I_p, H_p/2] U8, [E', 2·I_p, H_p/32] U8, [E', 2·I_p] F32
  Tensor w2, w2_scale, w2_bias;     // [E', H_p, I_p/2] U8, [E', H_p, I_p/32] U8, [E', H_p] F32
  Tensor hidden;                    // BF16 [T, H_p], zero past H
  Tensor topk_ids, topk_weights;
};

RankSlice slice_rank(const CanonicalInputs& in, const ShapeSpec& shape);

// Geometry of the rank's device buffers, for the derivation.
Geometry rank_geometry(const RankSlice& slice);

// The buffers depend on prep, shuffles and the stated padding only; is_shuffled and gate_mode are
// what the kernel is told. Padding the kernel is told to skip is poisoned: E8M0 NaN (0xFF) scales
// and NaN biases / activations, so a kernel that reads it produces NaN.
// `convention`: the pad convention of the kernel that will read it; padding that kernel reads (a
// CK-tile kernel rounds the pads down, so it reads into them) stays zero, as the serving stack
// leaves it, and only what it never reads is poisoned.
FusedMoeProblem prepare_problem(const RankSlice& slice, const Combination& combo, const ShapeSpec& shape,
                                PadConvention convention = PadConvention::Exact);

}  // namespace mxg::matrix
