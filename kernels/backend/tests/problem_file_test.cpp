// Problem files and output files: round trip, and one-line InputErrors naming the file and the
// missing or bad tensor / metadata key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/backend/tests/temp_path.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::testing {
namespace {

using ::testing::HasSubstr;

FusedMoeProblem sample_problem() {
  const MoeShape s{4, 96, 128, 64, 64, 2, 3};
  auto p = prepare_device(make_canonical(s, 7), consistent_prep(GateMode::Interleave, true),
                          correct_flags(s, GateMode::Interleave, true));
  p.swiglu_limit = 6.5f;
  p.alpha = 1.702f;
  return p;
}

NamedTensors tensors_of(const FusedMoeProblem& p) {
  return {{"hidden", p.hidden},     {"w13", p.w13},         {"w13_scale", p.w13_scale},
          {"w2", p.w2},             {"w2_scale", p.w2_scale}, {"w13_bias", p.w13_bias},
          {"w2_bias", p.w2_bias},   {"topk_ids", p.topk_ids}, {"topk_weights", p.topk_weights}};
}

std::string read_error(const std::filesystem::path& path) {
  try {
    read_problem(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ProblemFile, RoundTripsEveryTensorAndField) {
  ScratchDir dir;
  const auto p = sample_problem();
  write_problem(dir / "case.safetensors", p);
  const auto q = read_problem(dir / "case.safetensors");
  const auto pt = tensors_of(p), qt = tensors_of(q);
  for (std::size_t i = 0; i < pt.size(); ++i) {
    EXPECT_EQ(pt[i].second.dtype(), qt[i].second.dtype()) << pt[i].first;
    EXPECT_EQ(pt[i].second.shape(), qt[i].second.shape()) << pt[i].first;
    EXPECT_TRUE(pt[i].second.same_bytes(qt[i].second)) << pt[i].first;
  }
  EXPECT_EQ(q.gate_mode, GateMode::Interleave);
  EXPECT_TRUE(q.is_shuffled);
  EXPECT_EQ(q.hidden_pad, 32);
  EXPECT_EQ(q.intermediate_pad, 0);
  EXPECT_EQ(q.swiglu_limit, 6.5f);
  EXPECT_EQ(q.alpha, 1.702f);
  const auto meta = SafetensorsFile::open(dir / "case.safetensors").metadata();
  EXPECT_EQ(meta.at("hidden_size"), "96");
  EXPECT_EQ(meta.at("intermediate_padded"), "64");
  EXPECT_EQ(meta.at("mxguard.protocol"), "1");
}

TEST(ProblemFile, MissingOrBadMetadataNamesFileAndKey) {
  ScratchDir dir;
  const auto p = sample_problem();
  struct Case {
    const char* key;
    const char* value;  // nullptr: remove the key
    const char* expected;
  };
  const Case cases[] = {
      {"gate_mode", nullptr, "no 'gate_mode'"},
      {"is_shuffled", "yes", "'is_shuffled' is 'yes'"},
      {"hidden_pad", "32px", "'hidden_pad' is '32px', not a number"},
      {"swiglu_limit", "", "'swiglu_limit' is ''"},
      {"gate_mode", "gugu", "gate_mode: 'gugu'"},
      {"mxguard.protocol", "2", "'mxguard.protocol' is '2'"},
      {"intermediate_pad", "64", "intermediate_pad: is 64"},  // parsed, then rejected by validation
  };
  for (const auto& c : cases) {
    auto meta = problem_metadata(p);
    if (c.value) {
      meta[c.key] = c.value;
    } else {
      meta.erase(c.key);
    }
    const auto path = dir / "bad.safetensors";
    write_safetensors(path, tensors_of(p), meta);
    const std::string message = read_error(path);
    EXPECT_THAT(message, HasSubstr(path.string())) << c.key;
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.key;
  }
}

TEST(ProblemFile, MissingTensorIsNamed) {
  ScratchDir dir;
  const auto p = sample_problem();
  auto tensors = tensors_of(p);
  tensors.erase(tensors.begin() + 2);  // w13_scale
  write_safetensors(dir / "case.safetensors", tensors, problem_metadata(p));
  EXPECT_THAT(read_error(dir / "case.safetensors"), HasSubstr("w13_scale"));
}

TEST(ProblemFile, WriteRejectsAnInvalidProblem) {
  ScratchDir dir;
  auto p = sample_problem();
  p.hidden_pad = -3;
  EXPECT_THROW(write_problem(dir / "case.safetensors", p), InputError);
}

TEST(OutputFile, AcceptsBf16AndRoundsF32) {
  ScratchDir dir;
  const std::vector<float> values{1.0f, 1.00390625f + 1e-4f, -3.14159f, 0.0f, 1e-3f, 65504.0f};
  write_safetensors(dir / "f32.safetensors", {{"y", Tensor::from_f32(values, {2, 3})}});
  const Tensor y = read_output(dir / "f32.safetensors", 2, 3);
  ASSERT_EQ(y.dtype(), DType::BF16);
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(y.as<std::uint16_t>()[i], f32_to_bf16(values[i])) << i;
  }
  write_output(dir / "bf16.safetensors", y);
  EXPECT_TRUE(read_output(dir / "bf16.safetensors", 2, 3).same_bytes(y));
}

TEST(OutputFile, WrongShapeDtypeOrNameIsAnInputError) {
  ScratchDir dir;
  const auto path = dir / "y.safetensors";
  write_safetensors(path, {{"y", Tensor(DType::BF16, {2, 4})}});
  try {
    read_output(path, 2, 3);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("y: shape is [2, 4], expected [2, 3]"));
  }
  write_safetensors(path, {{"y", Tensor(DType::I32, {2, 3})}});
  EXPECT_THROW(read_output(path, 2, 3), InputError);
  write_safetensors(path, {{"out", Tensor(DType::BF16, {2, 3})}});
  EXPECT_THROW(read_output(path, 2, 3), InputError);
}

}  // namespace
}  // namespace mxg::testing
