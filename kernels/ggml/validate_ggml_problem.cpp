// validate_ggml_problem: the contract of ggml_experts.hpp, checked field by field in the order a
// reader of the struct meets them, each failure naming the field, the expectation and the value.
#include "kernels/ggml/validate_ggml_problem.hpp"

#include <cmath>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::ggml_family {
namespace {

[[noreturn]] void fail(std::string_view field, const std::string& what) {
  throw InputError(fmt::format("ggml problem: {}: {}", field, what));
}

void expect_tensor(std::string_view field, const Tensor& t, DType dtype, std::size_t rank, std::string_view layout) {
  if (t.empty() && t.rank() == 0) fail(field, fmt::format("is missing, expected {} {}", dtype_name(dtype), layout));
  if (t.empty()) fail(field, fmt::format("is empty (shape {}), expected {} {}", shape_string(t.shape()), dtype_name(dtype), layout));
  if (t.dtype() != dtype) {
    fail(field, fmt::format("dtype is {}, expected {} ({})", dtype_name(t.dtype()), dtype_name(dtype), layout));
  }
  if (t.rank() != rank) {
    fail(field, fmt::format("shape is {}, expected rank {} ({})", shape_string(t.shape()), rank, layout));
  }
}

void expect_dim(std::string_view field, const Tensor& t, std::size_t i, std::int64_t expected, std::string_view why) {
  if (t.dim(i) != expected) {
    fail(field, fmt::format("dim {} is {}, expected {} ({}); shape {}", i, t.dim(i), expected, why,
                            shape_string(t.shape())));
  }
}

void expect_absent(std::string_view field, const Tensor& t, std::string_view why) {
  if (!t.empty()) fail(field, fmt::format("is present (shape {}), expected empty: {}", shape_string(t.shape()), why));
}

// Bytes per row of a block_mxfp4 matrix reducing over k inputs.
std::int64_t row_bytes(std::int64_t k) { return k / kBlockElems * kBlockBytes; }

// A U8 [E, rows, k/32*17] weight; returns rows after checking E and the row width.
std::int64_t check_weight(std::string_view field, const Tensor& t, std::int64_t experts, std::int64_t k,
                          std::string_view layout) {
  expect_tensor(field, t, DType::U8, 3, layout);
  if (experts >= 0) expect_dim(field, t, 0, experts, "E from the first weight's dim 0");
  expect_dim(field, t, 2, row_bytes(k), fmt::format("{}/32 blocks of {} bytes with K = {}", k, kBlockBytes, k));
  return t.dim(1);
}

void check_bias(std::string_view field, const Tensor& t, std::int64_t experts, std::int64_t rows,
                std::string_view layout) {
  expect_tensor(field, t, DType::F32, 2, layout);
  expect_dim(field, t, 0, experts, "E from the weights' dim 0");
  expect_dim(field, t, 1, rows, "the rows of its weight");
}

std::int64_t check_intermediate(std::string_view field, std::int64_t rows, std::int64_t per_unit) {
  if (rows <= 0 || rows % (per_unit * kBlockElems) != 0) {
    fail(field, fmt::format("dim 1 is {}, expected a positive multiple of {} (I a multiple of 32: down reduces "
                            "over I in blocks of 32)",
                            rows, per_unit * kBlockElems));
  }
  return rows / per_unit;
}

}  // namespace

GgmlMoeDims validate_ggml_problem(const GgmlMoeProblem& p) {
  GgmlMoeDims d;
  expect_tensor("hidden", p.hidden, DType::F32, 2, "[T, H]");
  d.tokens = p.hidden.dim(0);
  d.hidden = p.hidden.dim(1);
  if (d.tokens <= 0) fail("hidden", fmt::format("dim 0 (T) is {}, expected at least 1", d.tokens));
  if (d.hidden <= 0 || d.hidden % kBlockElems != 0) {
    fail("hidden", fmt::format("dim 1 (H) is {}, expected a positive multiple of 32 (one block_mxfp4 per 32 inputs)",
                               d.hidden));
  }

  const GgmlExperts& x = p.experts;
  if (x.merged()) {
    expect_absent("experts.gate", x.gate, "gate_up replaces gate and up");
    expect_absent("experts.up", x.up, "gate_up replaces gate and up");
    expect_absent("experts.gate_bias", x.gate_bias, "gate_up_bias replaces gate_bias and up_bias");
    expect_absent("experts.up_bias", x.up_bias, "gate_up_bias replaces gate_bias and up_bias");
    const std::int64_t rows = check_weight("experts.gate_up", x.gate_up, -1, d.hidden, "[E, 2I, H/32*17]");
    d.experts = x.gate_up.dim(0);
    d.intermediate = check_intermediate("experts.gate_up", rows, 2);
    check_bias("experts.gate_up_bias", x.gate_up_bias, d.experts, rows, "[E, 2I]");
  } else {
    expect_absent("experts.gate_up_bias", x.gate_up_bias, "gate_up is empty (split gate and up)");
    const std::int64_t rows = check_weight("experts.gate", x.gate, -1, d.hidden, "[E, I, H/32*17]");
    d.experts = x.gate.dim(0);
    d.intermediate = check_intermediate("experts.gate", rows, 1);
    check_weight("experts.up", x.up, d.experts, d.hidden, "[E, I, H/32*17]");
    expect_dim("experts.up", x.up, 1, d.intermediate, "I from experts.gate dim 1");
    check_bias("experts.gate_bias", x.gate_bias, d.experts, d.intermediate, "[E, I]");
    check_bias("experts.up_bias", x.up_bias, d.experts, d.intermediate, "[E, I]");
  }
  if (d.experts <= 0) fail("experts", fmt::format("E is {}, expected at least 1", d.experts));
  check_weight("experts.down", x.down, d.experts, d.intermediate, "[E, H, I/32*17]");
  expect_dim("experts.down", x.down, 1, d.hidden, "H from hidden dim 1");
  check_bias("experts.down_bias", x.down_bias, d.experts, d.hidden, "[E, H]");

  expect_tensor("topk_ids", p.topk_ids, DType::I32, 2, "[T, k]");
  expect_dim("topk_ids", p.topk_ids, 0, d.tokens, "T from hidden dim 0");
  d.topk = p.topk_ids.dim(1);
  if (d.topk <= 0) fail("topk_ids", fmt::format("dim 1 (k) is {}, expected at least 1", d.topk));
  expect_tensor("topk_weights", p.topk_weights, DType::F32, 2, "[T, k]");
  expect_dim("topk_weights", p.topk_weights, 0, d.tokens, "T from hidden dim 0");
  expect_dim("topk_weights", p.topk_weights, 1, d.topk, "k from topk_ids dim 1");
  const auto ids = p.topk_ids.as<std::int32_t>();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= d.experts) {
      const auto k = static_cast<std::size_t>(d.topk);
      fail("topk_ids", fmt::format("[{}, {}] is {}, expected an expert id in [0, {})", i / k, i % k, ids[i], d.experts));
    }
  }

  if (!std::isfinite(p.alpha)) fail("alpha", fmt::format("is {}, expected a finite number", p.alpha));
  if (!std::isfinite(p.swiglu_limit) || p.swiglu_limit <= 0) {
    fail("swiglu_limit", fmt::format("is {}, expected a positive finite number", p.swiglu_limit));
  }
  return d;
}

}  // namespace mxg::ggml_family
