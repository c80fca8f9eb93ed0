// The hypothesis' ground truth for one instance: the reference layer (reference/) run on this
// rank's slice of the canonical checkpoint tensors — sliced here directly from the plan's unit
// range, never through the device-layout transforms under test.
#pragma once

#include "harness/matrix/canonical_inputs.hpp"
#include "kernels/layout/index_maps.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::matrix {

// y_ref F32 [T, H]: this rank's partial output (the down-projection bias only on rank 0).
Tensor reference_output(const CanonicalInputs& in, const layout::TpPlan& plan, const ShapeSpec& shape);

}  // namespace mxg::matrix
