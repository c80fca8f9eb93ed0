// validate_ggml_problem: a valid problem passes with the right sizes, and every way a field can
// be wrong is one InputError naming that field (ggml itself would abort the process instead).
#include "kernels/ggml/validate_ggml_problem.hpp"

#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "kernels/ggml/tests/random_ggml_problem.hpp"

namespace mxg::ggml_family {
namespace {

using testing::random_problem;
using testing::RandomProblemSpec;

const RandomProblemSpec kSpec{.tokens = 3, .hidden = 64, .intermediate = 96, .experts = 5, .topk = 2, .seed = 7};

TEST(ValidateGgmlProblem, ValidSplitAndMergedProblemsGiveTheirSizes) {
  GgmlMoeProblem p = random_problem(kSpec);
  for (bool merged : {false, true}) {
    if (merged) p.experts = testing::merge_gate_up(p.experts);
    const GgmlMoeDims d = validate_ggml_problem(p);
    EXPECT_EQ(d.tokens, 3);
    EXPECT_EQ(d.hidden, 64);
    EXPECT_EQ(d.intermediate, 96);
    EXPECT_EQ(d.experts, 5);
    EXPECT_EQ(d.topk, 2);
  }
}

struct BadCase {
  const char* name;
  std::function<void(GgmlMoeProblem&)> spoil;
  std::string expected;  // a piece of the one-line message
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ValidateGgmlProblemRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ValidateGgmlProblemRejects, WithOneLineNamingTheField) {
  GgmlMoeProblem p = random_problem(kSpec);
  GetParam().spoil(p);
  try {
    validate_ggml_problem(p);
    FAIL() << "accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(GetParam().expected), std::string::npos) << what;
    EXPECT_EQ(what.rfind("ggml problem: ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

Tensor u8(Shape s) { return Tensor(DType::U8, std::move(s)); }
Tensor f32(Shape s) { return Tensor(DType::F32, std::move(s)); }

INSTANTIATE_TEST_SUITE_P(
    Fields, ValidateGgmlProblemRejects,
    ::testing::Values(
        BadCase{"hidden_bf16", [](GgmlMoeProblem& p) { p.hidden = Tensor(DType::BF16, {3, 64}); }, "hidden: dtype is BF16"},
        BadCase{"hidden_rank", [](GgmlMoeProblem& p) { p.hidden = f32({3, 64, 1}); }, "hidden: shape is [3, 64, 1]"},
        BadCase{"hidden_not_blocks", [](GgmlMoeProblem& p) { p.hidden = f32({3, 48}); }, "hidden: dim 1 (H) is 48"},
        BadCase{"hidden_no_tokens", [](GgmlMoeProblem& p) { p.hidden = f32({0, 64}); }, "hidden: is empty (shape [0, 64])"},
        BadCase{"gate_missing", [](GgmlMoeProblem& p) { p.experts.gate = Tensor(); }, "experts.gate: is missing"},
        BadCase{"gate_row_bytes", [](GgmlMoeProblem& p) { p.experts.gate = u8({5, 96, 32}); }, "experts.gate: dim 2 is 32, expected 34"},
        BadCase{"gate_rows_not_blocks", [](GgmlMoeProblem& p) { p.experts.gate = u8({5, 80, 34}); }, "experts.gate: dim 1 is 80"},
        BadCase{"up_experts", [](GgmlMoeProblem& p) { p.experts.up = u8({4, 96, 34}); }, "experts.up: dim 0 is 4, expected 5"},
        BadCase{"up_rows", [](GgmlMoeProblem& p) { p.experts.up = u8({5, 64, 34}); }, "experts.up: dim 1 is 64, expected 96"},
        BadCase{"gate_bias_dtype", [](GgmlMoeProblem& p) { p.experts.gate_bias = Tensor(DType::F16, {5, 96}); },
                "experts.gate_bias: dtype is F16"},
        BadCase{"up_bias_rows", [](GgmlMoeProblem& p) { p.experts.up_bias = f32({5, 64}); }, "experts.up_bias: dim 1 is 64"},
        BadCase{"down_rows", [](GgmlMoeProblem& p) { p.experts.down = u8({5, 32, 51}); }, "experts.down: dim 1 is 32, expected 64"},
        BadCase{"down_row_bytes", [](GgmlMoeProblem& p) { p.experts.down = u8({5, 64, 34}); }, "experts.down: dim 2 is 34, expected 51"},
        BadCase{"down_bias_missing", [](GgmlMoeProblem& p) { p.experts.down_bias = Tensor(); }, "experts.down_bias: is missing"},
        BadCase{"merged_and_split",
                [](GgmlMoeProblem& p) {
                  const GgmlExperts m = testing::merge_gate_up(p.experts);
                  p.experts.gate_up = m.gate_up;
                  p.experts.gate_up_bias = m.gate_up_bias;
                },
                "experts.gate: is present"},
        BadCase{"merged_bias_rows",
                [](GgmlMoeProblem& p) {
                  p.experts = testing::merge_gate_up(p.experts);
                  p.experts.gate_up_bias = f32({5, 96});
                },
                "experts.gate_up_bias: dim 1 is 96, expected 192"},
        BadCase{"stray_gate_up_bias", [](GgmlMoeProblem& p) { p.experts.gate_up_bias = f32({5, 192}); },
                "experts.gate_up_bias: is present"},
        BadCase{"ids_dtype", [](GgmlMoeProblem& p) { p.topk_ids = Tensor(DType::I64, {3, 2}); }, "topk_ids: dtype is I64"},
        BadCase{"ids_tokens", [](GgmlMoeProblem& p) { p.topk_ids = Tensor(DType::I32, {2, 2}); }, "topk_ids: dim 0 is 2, expected 3"},
        BadCase{"id_too_large", [](GgmlMoeProblem& p) { p.topk_ids.as_mut<std::int32_t>()[3] = 5; },
                "topk_ids: [1, 1] is 5, expected an expert id in [0, 5)"},
        BadCase{"id_negative", [](GgmlMoeProblem& p) { p.topk_ids.as_mut<std::int32_t>()[0] = -1; }, "topk_ids: [0, 0] is -1"},
        BadCase{"weights_k", [](GgmlMoeProblem& p) { p.topk_weights = f32({3, 3}); }, "topk_weights: dim 1 is 3, expected 2"},
        BadCase{"alpha_nan", [](GgmlMoeProblem& p) { p.alpha = std::numeric_limits<float>::quiet_NaN(); }, "alpha: is nan"},
        BadCase{"limit_zero", [](GgmlMoeProblem& p) { p.swiglu_limit = 0; }, "swiglu_limit: is 0"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mxg::ggml_family
