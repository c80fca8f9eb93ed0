// The dispatcher prediction of aiter_dispatch.hpp. The tuned rows are facts read from the CSVs named
// there: model_dim 3072, 128 experts, top-4; inter_dim (= I_p) 3072, 1536 and 512 for bf16 activations
// (kernel `swiglu_mxfp4_bf16_cktile`) and fp4 activations (FlyDSL kernels), 3072 only for fp8.
#include "harness/preflight/aiter_dispatch.hpp"

#include <algorithm>
#include <initializer_list>

namespace mxg::preflight {

namespace {
bool gptoss_row(std::int64_t i_p, std::int64_t h_p, std::int64_t experts, std::int64_t topk,
                std::initializer_list<std::int64_t> inter_dims) {
  return h_p == 3072 && experts == 128 && topk == 4 &&
         std::find(inter_dims.begin(), inter_dims.end(), i_p) != inter_dims.end();
}
}  // namespace

AiterDispatch predict_aiter_dispatch(GateMode mode, std::int64_t i_p, std::int64_t h_p, std::int64_t experts,
                                     std::int64_t topk) {
  AiterDispatch d;
  // Decode: bf16 activations. A row names swiglu_mxfp4_bf16_cktile (not FlyDSL), and without one both
  // gate modes end in a CK-tile branch (interleave: the gate-mode branch; separated: the bf16
  // swiglu_mxfp4 CK-tile branch).
  const bool a16w4_row = gptoss_row(i_p, h_p, experts, topk, {3072, 1536, 512});
  d.decode = {a16w4_row ? "CK-tile (tuned row swiglu_mxfp4_bf16_cktile)" : "CK-tile (no tuned row: CK-tile branch)",
              false};
  if (mode == GateMode::Interleave) {
    // Prefill: fp8 activations. Only inter_dim 3072 has rows (FlyDSL stage 1, FlyDSL or CK-tile stage
    // 2 by token tier); otherwise the interleave CK-tile branch comes before any FlyDSL fallback.
    d.prefill = gptoss_row(i_p, h_p, experts, topk, {3072})
                    ? KernelChoice{"FlyDSL stage 1 (tuned fp8 rows; stage 2 FlyDSL or CK-tile by token tier)", true}
                    : KernelChoice{"CK-tile (no tuned fp8 row: the interleave CK-tile branch)", false};
  } else {
    // Prefill: fp4 activations. Rows name FlyDSL kernels; without one the FlyDSL heuristic fallback.
    d.prefill = gptoss_row(i_p, h_p, experts, topk, {3072, 1536, 512})
                    ? KernelChoice{"FlyDSL (tuned fp4 rows)", true}
                    : KernelChoice{"FlyDSL (no tuned row: the FlyDSL heuristic fallback)", true};
  }
  return d;
}

}  // namespace mxg::preflight
