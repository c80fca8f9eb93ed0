// validate_problem: every shape, dtype and value LAYOUTS.md §8 constrains, checked before any
// backend reads a byte, so a malformed problem is an InputError and never an out-of-bounds read.
#include <cmath>

#include <fmt/format.h>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/common/errors.hpp"

namespace mxg {
namespace {

[[noreturn]] void fail(std::string_view field, const std::string& what) {
  throw InputError(fmt::format("{}: {}", field, what));
}

void expect_dtype(std::string_view field, const Tensor& t, DType dtype) {
  if (t.dtype() != dtype) {
    fail(field, fmt::format("dtype is {}, expected {}", dtype_name(t.dtype()), dtype_name(dtype)));
  }
}

void expect_rank(std::string_view field, const Tensor& t, std::size_t rank, std::string_view layout) {
  if (t.rank() != rank) {
    fail(field, fmt::format("rank is {} (shape {}), expected {} ({})", t.rank(), shape_string(t.shape()), rank, layout));
  }
}

void expect_dim(std::string_view field, const Tensor& t, std::size_t i, std::int64_t expected, std::string_view why) {
  if (t.dim(i) != expected) {
    fail(field, fmt::format("dim {} is {}, expected {} ({}); shape {}", i, t.dim(i), expected, why, shape_string(t.shape())));
  }
}

// Scales are 2-D [rows, cols]. A shuffled tensor may carry padding rows/cols (LAYOUTS.md §7), and
// an unshuffled read of shuffled scales is a legitimate (inconsistent) experiment, so both
// modes accept at least the needed extent; the shuffle formula additionally needs whole
// 32-row x 8-column blocks.
void check_scales(std::string_view field, const Tensor& t, std::int64_t rows, std::int64_t cols, bool shuffled,
                  std::string_view why) {
  expect_dtype(field, t, DType::U8);
  expect_rank(field, t, 2, "[rows, cols] E8M0 bytes");
  if (t.dim(0) < rows) {
    fail(field, fmt::format("dim 0 (rows) is {}, expected at least {} ({})", t.dim(0), rows, why));
  }
  if (t.dim(1) < cols) {
    fail(field, fmt::format("dim 1 (cols) is {}, expected at least {} ({})", t.dim(1), cols, why));
  }
  if (shuffled && (t.dim(0) % 32 != 0 || t.dim(1) % 8 != 0)) {
    fail(field, fmt::format("shape {} cannot hold the scale shuffle (is_shuffled = true needs rows % 32 == 0 and "
                            "cols % 8 == 0)",
                            shape_string(t.shape())));
  }
}

}  // namespace

void validate_problem(const FusedMoeProblem& p) {
  expect_dtype("hidden", p.hidden, DType::BF16);
  expect_rank("hidden", p.hidden, 2, "[T, H_p]");
  const std::int64_t tokens = p.hidden.dim(0), hp = p.hidden.dim(1);
  if (hp <= 0 || hp % 32 != 0) {
    fail("hidden", fmt::format("dim 1 (H_p) is {}, expected a positive multiple of 32 (one E8M0 scale per 32 inputs)", hp));
  }

  expect_dtype("w13", p.w13, DType::U8);
  expect_rank("w13", p.w13, 3, "[E, 2*I_p, H_p/2]");
  const std::int64_t experts = p.w13.dim(0), rows13 = p.w13.dim(1);
  if (experts <= 0) fail("w13", fmt::format("dim 0 (experts) is {}, expected at least 1", experts));
  if (rows13 <= 0 || rows13 % 64 != 0) {
    fail("w13", fmt::format("dim 1 (2*I_p) is {}, expected a positive multiple of 64 (I_p a multiple of 32: one "
                            "E8M0 scale per 32 units in w2)",
                            rows13));
  }
  const std::int64_t ip = rows13 / 2;
  expect_dim("w13", p.w13, 2, hp / 2, fmt::format("H_p/2 with H_p = {} from hidden dim 1", hp));

  check_scales("w13_scale", p.w13_scale, experts * rows13, hp / 32, p.is_shuffled,
               fmt::format("E*2*I_p = {}*{} rows, H_p/32 = {} cols", experts, rows13, hp / 32));

  expect_dtype("w2", p.w2, DType::U8);
  expect_rank("w2", p.w2, 3, "[E, H_p, I_p/2]");
  expect_dim("w2", p.w2, 0, experts, "E from w13 dim 0");
  expect_dim("w2", p.w2, 1, hp, "H_p from hidden dim 1");
  expect_dim("w2", p.w2, 2, ip / 2, fmt::format("I_p/2 with I_p = {} from w13 dim 1", ip));
  check_scales("w2_scale", p.w2_scale, experts * hp, ip / 32, p.is_shuffled,
               fmt::format("E*H_p = {}*{} rows, I_p/32 = {} cols", experts, hp, ip / 32));

  expect_dtype("w13_bias", p.w13_bias, DType::F32);
  expect_rank("w13_bias", p.w13_bias, 2, "[E, 2*I_p]");
  expect_dim("w13_bias", p.w13_bias, 0, experts, "E from w13 dim 0");
  expect_dim("w13_bias", p.w13_bias, 1, rows13, "2*I_p from w13 dim 1");
  expect_dtype("w2_bias", p.w2_bias, DType::F32);
  expect_rank("w2_bias", p.w2_bias, 2, "[E, H_p]");
  expect_dim("w2_bias", p.w2_bias, 0, experts, "E from w13 dim 0");
  expect_dim("w2_bias", p.w2_bias, 1, hp, "H_p from hidden dim 1");

  expect_dtype("topk_ids", p.topk_ids, DType::I32);
  expect_rank("topk_ids", p.topk_ids, 2, "[T, k]");
  expect_dim("topk_ids", p.topk_ids, 0, tokens, "T from hidden dim 0");
  if (p.topk_ids.dim(1) <= 0) fail("topk_ids", fmt::format("dim 1 (k) is {}, expected at least 1", p.topk_ids.dim(1)));
  expect_dtype("topk_weights", p.topk_weights, DType::F32);
  expect_rank("topk_weights", p.topk_weights, 2, "[T, k]");
  expect_dim("topk_weights", p.topk_weights, 0, tokens, "T from hidden dim 0");
  expect_dim("topk_weights", p.topk_weights, 1, p.topk_ids.dim(1), "k from topk_ids dim 1");
  const auto ids = p.topk_ids.as<std::int32_t>();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= experts) {
      const auto k = static_cast<std::size_t>(p.topk_ids.dim(1));
      fail("topk_ids", fmt::format("[{}, {}] is {}, expected an expert id in [0, {})", i / k, i % k, ids[i], experts));
    }
  }

  if (p.hidden_pad < 0 || p.hidden_pad >= hp) {
    fail("hidden_pad", fmt::format("is {}, expected 0 <= hidden_pad < H_p = {}", p.hidden_pad, hp));
  }
  if (p.intermediate_pad < 0 || p.intermediate_pad >= ip) {
    fail("intermediate_pad", fmt::format("is {}, expected 0 <= intermediate_pad < I_p = {}", p.intermediate_pad, ip));
  }
  if (!std::isfinite(p.swiglu_limit) || p.swiglu_limit <= 0) {
    fail("swiglu_limit", fmt::format("is {}, expected a positive finite number", p.swiglu_limit));
  }
  if (!std::isfinite(p.alpha)) fail("alpha", fmt::format("is {}, expected a finite number", p.alpha));
}

}  // namespace mxg
