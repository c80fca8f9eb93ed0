// validate_problem: each contract violation is an InputError naming the field, the expected and
// the found value; a valid problem passes.
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

FusedMoeProblem valid_problem(bool shuffled = false) {
  const MoeShape s{4, 96, 128, 64, 64, 2, 3};
  return prepare_device(make_canonical(s, 3), consistent_prep(GateMode::Separated, shuffled),
                        correct_flags(s, GateMode::Separated, shuffled));
}

std::string error_of(const FusedMoeProblem& p) {
  try {
    validate_problem(p);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ValidateProblem, AcceptsValidProblems) {
  EXPECT_NO_THROW(validate_problem(valid_problem(false)));
  EXPECT_NO_THROW(validate_problem(valid_problem(true)));
}

struct Violation {
  const char* name;
  std::function<void(FusedMoeProblem&)> mutate;
  std::vector<std::string> message_parts;
};

class ViolationTest : public ::testing::TestWithParam<Violation> {};

TEST_P(ViolationTest, IsAnInputErrorNamingTheField) {
  FusedMoeProblem p = valid_problem();
  GetParam().mutate(p);
  const std::string message = error_of(p);
  for (const auto& part : GetParam().message_parts) EXPECT_THAT(message, HasSubstr(part));
}

Tensor zeros(DType t, Shape s) { return Tensor(t, std::move(s)); }

const Violation kViolations[] = {
    {"hidden_dtype", [](FusedMoeProblem& p) { p.hidden = zeros(DType::F32, {3, 128}); }, {"hidden:", "F32", "expected BF16"}},
    {"hidden_rank", [](FusedMoeProblem& p) { p.hidden = zeros(DType::BF16, {384}); }, {"hidden:", "rank is 1", "[T, H_p]"}},
    {"hidden_not_32", [](FusedMoeProblem& p) { p.hidden = zeros(DType::BF16, {3, 120}); }, {"hidden:", "120", "multiple of 32"}},
    {"w13_bytes_per_row", [](FusedMoeProblem& p) { p.w13 = zeros(DType::U8, {4, 128, 48}); },
     {"w13:", "dim 2 is 48, expected 64", "H_p = 128"}},
    {"w13_rows", [](FusedMoeProblem& p) { p.w13 = zeros(DType::U8, {4, 96, 64}); }, {"w13:", "dim 1 (2*I_p) is 96"}},
    {"w13_dtype", [](FusedMoeProblem& p) { p.w13 = zeros(DType::I8, {4, 128, 64}); }, {"w13:", "I8", "expected U8"}},
    {"w13_scale_rows", [](FusedMoeProblem& p) { p.w13_scale = zeros(DType::U8, {500, 4}); },
     {"w13_scale:", "dim 0 (rows) is 500, expected at least 512"}},
    {"w13_scale_cols", [](FusedMoeProblem& p) { p.w13_scale = zeros(DType::U8, {512, 3}); },
     {"w13_scale:", "dim 1 (cols) is 3, expected at least 4"}},
    {"w13_scale_rank", [](FusedMoeProblem& p) { p.w13_scale = zeros(DType::U8, {4, 128, 4}); }, {"w13_scale:", "rank is 3"}},
    {"scales_unfit_for_shuffle", [](FusedMoeProblem& p) { p.is_shuffled = true; },
     {"w13_scale:", "[512, 4]", "is_shuffled = true", "cols % 8 == 0"}},
    {"w2_experts", [](FusedMoeProblem& p) { p.w2 = zeros(DType::U8, {3, 128, 32}); }, {"w2:", "dim 0 is 3, expected 4"}},
    {"w2_rows", [](FusedMoeProblem& p) { p.w2 = zeros(DType::U8, {4, 96, 32}); }, {"w2:", "dim 1 is 96, expected 128"}},
    {"w2_bytes_per_row", [](FusedMoeProblem& p) { p.w2 = zeros(DType::U8, {4, 128, 16}); },
     {"w2:", "dim 2 is 16, expected 32", "I_p = 64"}},
    {"w2_scale_rows", [](FusedMoeProblem& p) { p.w2_scale = zeros(DType::U8, {511, 2}); }, {"w2_scale:", "expected at least 512"}},
    {"w13_bias_dtype", [](FusedMoeProblem& p) { p.w13_bias = zeros(DType::BF16, {4, 128}); }, {"w13_bias:", "BF16", "expected F32"}},
    {"w13_bias_shape", [](FusedMoeProblem& p) { p.w13_bias = zeros(DType::F32, {4, 64}); }, {"w13_bias:", "dim 1 is 64, expected 128"}},
    {"w2_bias_shape", [](FusedMoeProblem& p) { p.w2_bias = zeros(DType::F32, {4, 96}); }, {"w2_bias:", "dim 1 is 96, expected 128"}},
    {"topk_ids_dtype", [](FusedMoeProblem& p) { p.topk_ids = zeros(DType::I64, {3, 2}); }, {"topk_ids:", "I64", "expected I32"}},
    {"topk_ids_tokens", [](FusedMoeProblem& p) { p.topk_ids = zeros(DType::I32, {2, 2}); }, {"topk_ids:", "dim 0 is 2, expected 3"}},
    {"topk_id_out_of_range", [](FusedMoeProblem& p) { p.topk_ids.as_mut<std::int32_t>()[3] = 4; },
     {"topk_ids:", "[1, 1] is 4", "[0, 4)"}},
    {"topk_id_negative", [](FusedMoeProblem& p) { p.topk_ids.as_mut<std::int32_t>()[0] = -1; }, {"topk_ids:", "[0, 0] is -1"}},
    {"topk_weights_k", [](FusedMoeProblem& p) { p.topk_weights = zeros(DType::F32, {3, 3}); },
     {"topk_weights:", "dim 1 is 3, expected 2"}},
    {"hidden_pad_too_large", [](FusedMoeProblem& p) { p.hidden_pad = 128; }, {"hidden_pad:", "128", "H_p = 128"}},
    {"hidden_pad_negative", [](FusedMoeProblem& p) { p.hidden_pad = -1; }, {"hidden_pad:", "-1"}},
    {"intermediate_pad_too_large", [](FusedMoeProblem& p) { p.intermediate_pad = 64; }, {"intermediate_pad:", "I_p = 64"}},
    {"swiglu_limit", [](FusedMoeProblem& p) { p.swiglu_limit = 0.0f; }, {"swiglu_limit:", "positive finite"}},
    {"alpha", [](FusedMoeProblem& p) { p.alpha = std::numeric_limits<float>::infinity(); }, {"alpha:", "finite"}},
};

INSTANTIATE_TEST_SUITE_P(Contract, ViolationTest, ::testing::ValuesIn(kViolations),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mxg::testing
