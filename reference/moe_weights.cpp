// Shape and dtype checks of the canonical MoE tensors against the layer configuration.
#include "reference/moe_weights.hpp"

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/errors.hpp"

namespace mxg::ref {

namespace {

struct Dim {
  std::int64_t value;
  const char* meaning;  // e.g. "2*intermediate_size"
};

bool is_float(DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32 || t == DType::F64; }

void check_dtype(const Tensor& t, std::string_view label, bool want_u8) {
  const bool ok = want_u8 ? t.dtype() == DType::U8 : is_float(t.dtype());
  if (!ok) {
    throw InputError(fmt::format("{}: dtype {} is not supported (expected {})", label, dtype_name(t.dtype()),
                                 want_u8 ? "U8" : "BF16, F16, F32 or F64"));
  }
}

void check_shape(const Tensor& t, std::string_view label, const std::vector<Dim>& want) {
  if (t.rank() != want.size()) {
    std::vector<std::string> parts;
    for (const Dim& d : want) parts.push_back(fmt::format("{}={}", d.meaning, d.value));
    throw InputError(fmt::format("{}: shape {} has rank {}, expected rank {} [{}]", label, shape_string(t.shape()),
                                 t.rank(), want.size(), fmt::join(parts, ", ")));
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (t.dim(i) != want[i].value) {
      throw InputError(fmt::format("{}: shape {}: dimension {} is {}, expected {} = {}", label,
                                   shape_string(t.shape()), i, t.dim(i), want[i].meaning, want[i].value));
    }
  }
}

// Packed MXFP4 blocks: [E, rows, K/32, 16] as in the checkpoint, or the same bytes as [E, rows, K/2].
void check_blocks(const Tensor& t, std::string_view label, std::int64_t experts, std::int64_t rows,
                  const char* rows_meaning, std::int64_t k, const char* k_meaning) {
  check_dtype(t, label, true);
  const std::string blocks_meaning = fmt::format("{}/32", k_meaning);
  const std::string bytes_meaning = fmt::format("{}/2", k_meaning);
  if (t.rank() == 3) {
    check_shape(t, label, {{experts, "num_local_experts"}, {rows, rows_meaning}, {k / 2, bytes_meaning.c_str()}});
  } else {
    check_shape(t, label,
                {{experts, "num_local_experts"}, {rows, rows_meaning}, {k / 32, blocks_meaning.c_str()}, {16, "16"}});
  }
}

}  // namespace

void validate_weights(const MoeConfig& c, const MoeWeights& w, bool need_router) {
  const WeightLabels& l = w.labels;
  const std::int64_t E = c.experts, H = c.hidden, I2 = 2 * c.intermediate, I = c.intermediate;
  check_blocks(w.w13_blocks, l.w13_blocks, E, I2, "2*intermediate_size", H, "hidden_size");
  check_dtype(w.w13_scales, l.w13_scales, true);
  check_shape(w.w13_scales, l.w13_scales, {{E, "num_local_experts"}, {I2, "2*intermediate_size"}, {H / 32, "hidden_size/32"}});
  check_dtype(w.w13_bias, l.w13_bias, false);
  check_shape(w.w13_bias, l.w13_bias, {{E, "num_local_experts"}, {I2, "2*intermediate_size"}});
  check_blocks(w.w2_blocks, l.w2_blocks, E, H, "hidden_size", I, "intermediate_size");
  check_dtype(w.w2_scales, l.w2_scales, true);
  check_shape(w.w2_scales, l.w2_scales, {{E, "num_local_experts"}, {H, "hidden_size"}, {I / 32, "intermediate_size/32"}});
  check_dtype(w.w2_bias, l.w2_bias, false);
  check_shape(w.w2_bias, l.w2_bias, {{E, "num_local_experts"}, {H, "hidden_size"}});
  if (need_router) {
    check_dtype(w.router_weight, l.router_weight, false);
    check_shape(w.router_weight, l.router_weight, {{E, "num_local_experts"}, {H, "hidden_size"}});
    check_dtype(w.router_bias, l.router_bias, false);
    check_shape(w.router_bias, l.router_bias, {{E, "num_local_experts"}});
  }
}

void infer_sizes(MoeConfig& c, const MoeWeights& w) {
  const Tensor& s13 = w.w13_scales;  // [E, 2I, H/32]: every size but I is here
  const Tensor& s2 = w.w2_scales;    // [E, H, I/32]
  if (s13.rank() == 3) {
    if (c.experts == 0) c.experts = s13.dim(0);
    if (c.intermediate == 0) c.intermediate = s13.dim(1) / 2;
    if (c.hidden == 0) c.hidden = s13.dim(2) * 32;
  }
  if (s2.rank() == 3 && c.intermediate == 0) c.intermediate = s2.dim(2) * 32;
}

}  // namespace mxg::ref
