// The tensors of one MoE layer in the canonical checkpoint layout (LAYOUTS.md §2) and their
// validation against a MoeConfig. The reference reads nothing else: no device layout, no shuffles.
#pragma once

#include <string>
#include <string_view>

#include "kernels/tensor/tensor.hpp"
#include "reference/moe_config.hpp"

namespace mxg::ref {

// How each tensor is named in error messages, e.g. "ckpt.safetensors: tensor 'model.layers.3.mlp...'".
struct WeightLabels {
  std::string w13_blocks = "w13_blocks", w13_scales = "w13_scales", w13_bias = "w13_bias";
  std::string w2_blocks = "w2_blocks", w2_scales = "w2_scales", w2_bias = "w2_bias";
  std::string router_weight = "router_weight", router_bias = "router_bias";
};

struct MoeWeights {
  Tensor w13_blocks;     // U8 [E, 2I, H/32, 16] or [E, 2I, H/2]; row 2j gate unit j, row 2j+1 up unit j
  Tensor w13_scales;     // U8 [E, 2I, H/32], E8M0
  Tensor w13_bias;       // BF16/F16/F32/F64 [E, 2I], checkpoint (interleaved) row order
  Tensor w2_blocks;      // U8 [E, H, I/32, 16] or [E, H, I/2]
  Tensor w2_scales;      // U8 [E, H, I/32]
  Tensor w2_bias;        // float [E, H]
  Tensor router_weight;  // float [E, H]; may stay empty when the routing is given
  Tensor router_bias;    // float [E];    may stay empty when the routing is given
  WeightLabels labels;
};

// Throws InputError naming the tensor's label, the dimension, the expected and the found value,
// or the dtype that is not accepted. The router tensors are checked only when `need_router`.
void validate_weights(const MoeConfig& c, const MoeWeights& w, bool need_router);

// Fills hidden, intermediate and experts where they are 0, from the expert tensors' shapes
// (validate_weights checks everything afterwards).
void infer_sizes(MoeConfig& c, const MoeWeights& w);

}  // namespace mxg::ref
