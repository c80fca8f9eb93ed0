// The whole conversion and its bug variants, checked element by element through two independent
// dequantisers (tests/ggml_test_support.hpp): the right prep reproduces every checkpoint value and
// bias, every variant changes them, each prep has an exact inverse, and the derivation of
// consistency agrees with what the bytes actually do.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/common/errors.hpp"
#include "kernels/layout/ggml_convert.hpp"
#include "kernels/layout/tests/ggml_test_support.hpp"

namespace mxg::layout::ggml {
namespace {

using testing::bias_at;
using testing::checkpoint_value;
using testing::gate_view;
using testing::ggml_value;
using testing::random_checkpoint;
using testing::up_view;

// Every prep of the product.
std::vector<GgmlPrep> all_preps() {
  std::vector<GgmlPrep> out;
  for (auto split : {GateUpSplit::right, GateUpSplit::swapped, GateUpSplit::halves}) {
    for (auto ss : {CompanionSplit::like_weights, CompanionSplit::right, CompanionSplit::swapped, CompanionSplit::halves}) {
      for (auto bs : {CompanionSplit::like_weights, CompanionSplit::right, CompanionSplit::swapped, CompanionSplit::halves}) {
        for (auto n : {NibbleTransform::applied, NibbleTransform::skipped}) {
          for (auto sb : {ScaleByte::right, ScaleByte::halved, ScaleByte::doubled}) {
            for (auto f : {GateUpForm::separate, GateUpForm::merged}) out.push_back({split, ss, bs, n, sb, f});
          }
        }
      }
    }
  }
  return out;
}

// How many weight values and biases ggml would read differently from the checkpoint's, comparing
// gate unit j with checkpoint row 2j and up unit j with row 2j + 1 (LAYOUTS.md §3).
struct Differences {
  std::int64_t values = 0, biases = 0, compared_values = 0;
};
Differences differences(const CheckpointExperts& ck, const GgmlExperts& g) {
  Differences d;
  const std::int64_t E = ck.gate_up_blocks.dim(0), I = ck.gate_up_blocks.dim(1) / 2;
  const std::int64_t H = ck.down_blocks.dim(1), K1 = ck.gate_up_blocks.dim(2) * 32, K2 = ck.down_blocks.dim(2) * 32;
  const std::vector<float> gub = ck.gate_up_bias.to_f32(), db = ck.down_bias.to_f32();
  for (std::int64_t e = 0; e < E; ++e) {
    for (int h = 0; h < 2; ++h) {
      const auto view = h == 0 ? gate_view(g) : up_view(g);
      for (std::int64_t j = 0; j < I; ++j) {
        for (std::int64_t k = 0; k < K1; ++k) {
          const double want = checkpoint_value(ck.gate_up_blocks, ck.gate_up_scales, e, 2 * j + h, k);
          d.values += ggml_value(*view.weight, e, view.row_offset + j, k) != want;
          ++d.compared_values;
        }
        d.biases += bias_at(view, e, j) != gub[static_cast<std::size_t>(e * 2 * I + 2 * j + h)];
      }
    }
    for (std::int64_t r = 0; r < H; ++r) {
      for (std::int64_t k = 0; k < K2; ++k) {
        d.values += ggml_value(g.down, e, r, k) != checkpoint_value(ck.down_blocks, ck.down_scales, e, r, k);
        ++d.compared_values;
      }
      d.biases += g.down_bias.as<float>()[static_cast<std::size_t>(e * H + r)] != db[static_cast<std::size_t>(e * H + r)];
    }
  }
  return d;
}

TEST(GgmlConvert, RightPipelineReproducesEveryCheckpointValueAndBias) {
  struct Dims {
    std::int64_t E, H, I;
  };
  for (const Dims& s : {Dims{3, 64, 96}, Dims{1, 32, 32}, Dims{2, 2880, 64}}) {
    for (DType bias_dtype : {DType::F32, DType::BF16}) {
      const CheckpointExperts ck = random_checkpoint(s.E, s.H, s.I, 17, bias_dtype);
      const GgmlExperts g = convert_checkpoint_experts(ck);
      EXPECT_EQ(g.gate.shape(), (Shape{s.E, s.I, s.H / 32 * 17}));
      EXPECT_EQ(g.up.shape(), (Shape{s.E, s.I, s.H / 32 * 17}));
      EXPECT_EQ(g.down.shape(), (Shape{s.E, s.H, s.I / 32 * 17}));
      EXPECT_EQ(g.gate_bias.shape(), (Shape{s.E, s.I}));
      EXPECT_EQ(g.gate_bias.dtype(), DType::F32);
      EXPECT_FALSE(g.merged());
      const Differences d = differences(ck, g);
      EXPECT_EQ(d.values, 0) << "of " << d.compared_values;
      EXPECT_EQ(d.biases, 0);
    }
  }
}

TEST(GgmlConvert, MergedFormHoldsTheSameValues) {
  const CheckpointExperts ck = random_checkpoint(2, 64, 64, 3);
  GgmlPrep merged;
  merged.form = GateUpForm::merged;
  const GgmlExperts g = prepare_ggml_experts(ck, merged);
  ASSERT_TRUE(g.merged());
  EXPECT_TRUE(g.gate.empty() && g.up.empty() && g.gate_bias.empty() && g.up_bias.empty());
  EXPECT_EQ(g.gate_up.shape(), (Shape{2, 128, 2 * 17}));
  EXPECT_EQ(g.gate_up_bias.shape(), (Shape{2, 128}));
  const Differences d = differences(ck, g);
  EXPECT_EQ(d.values, 0);
  EXPECT_EQ(d.biases, 0);
}

TEST(GgmlConvert, EverySingleBugVariantChangesWhatGgmlReads) {
  const CheckpointExperts ck = random_checkpoint(2, 64, 64, 29);
  struct Variant {
    const char* what;
    GgmlPrep prep;
    bool values_change, biases_change;
  };
  auto with = [](auto set) {
    GgmlPrep p;
    set(p);
    return p;
  };
  const Variant variants[] = {
      {"split=swapped", with([](GgmlPrep& p) { p.split = GateUpSplit::swapped; }), true, true},
      {"split=halves", with([](GgmlPrep& p) { p.split = GateUpSplit::halves; }), true, true},
      {"split=swapped, bias right", with([](GgmlPrep& p) { p.split = GateUpSplit::swapped; p.bias_split = CompanionSplit::right; }), true, false},
      {"scale_split=swapped", with([](GgmlPrep& p) { p.scale_split = CompanionSplit::swapped; }), true, false},
      {"scale_split=halves", with([](GgmlPrep& p) { p.scale_split = CompanionSplit::halves; }), true, false},
      {"bias_split=swapped", with([](GgmlPrep& p) { p.bias_split = CompanionSplit::swapped; }), false, true},
      {"bias_split=halves", with([](GgmlPrep& p) { p.bias_split = CompanionSplit::halves; }), false, true},
      {"nibbles=skipped", with([](GgmlPrep& p) { p.nibbles = NibbleTransform::skipped; }), true, false},
      {"scale_byte=halved", with([](GgmlPrep& p) { p.scale_byte = ScaleByte::halved; }), true, false},
      {"scale_byte=doubled", with([](GgmlPrep& p) { p.scale_byte = ScaleByte::doubled; }), true, false},
  };
  for (const Variant& v : variants) {
    const Differences d = differences(ck, prepare_ggml_experts(ck, v.prep));
    // Generic inputs: most values of the tensors the bug touches move (one survives only where both
    // sides happen to agree, e.g. a zero code); a gate/up bug leaves down (1/3 of the values) alone.
    if (v.values_change) {
      EXPECT_GT(d.values, d.compared_values / 3) << v.what;
    } else {
      EXPECT_EQ(d.values, 0) << v.what;
    }
    EXPECT_EQ(d.biases > 0, v.biases_change) << v.what << ": " << d.biases << " biases differ";
  }
}

TEST(GgmlConvert, EveryPrepHasAnExactInverse) {
  const CheckpointExperts ck = random_checkpoint(2, 64, 32, 41);
  for (const GgmlPrep& p : all_preps()) {
    const CheckpointExperts back = unprepare_ggml_experts(prepare_ggml_experts(ck, p), p);
    EXPECT_TRUE(back.gate_up_blocks.same_bytes(ck.gate_up_blocks)) << ggml_prep_id(p);
    EXPECT_TRUE(back.gate_up_scales.same_bytes(ck.gate_up_scales)) << ggml_prep_id(p);
    EXPECT_TRUE(back.gate_up_bias.same_bytes(ck.gate_up_bias)) << ggml_prep_id(p);
    EXPECT_TRUE(back.down_blocks.same_bytes(ck.down_blocks)) << ggml_prep_id(p);
    EXPECT_TRUE(back.down_scales.same_bytes(ck.down_scales)) << ggml_prep_id(p);
    EXPECT_TRUE(back.down_bias.same_bytes(ck.down_bias)) << ggml_prep_id(p);
    EXPECT_EQ(back.gate_up_blocks.shape(), ck.gate_up_blocks.shape());
  }
}

TEST(GgmlConvert, DerivedConsistencyAgreesWithTheBytesForEveryPrep) {
  // Scales away from the wrap-around, so a shifted exponent always shows in the values.
  const CheckpointExperts ck = random_checkpoint(1, 32, 32, 43, DType::F32, 100, 150);
  int consistent = 0;
  for (const GgmlPrep& p : all_preps()) {
    const GgmlPrepEffect fx = derive_ggml_prep_effect(p);
    const Differences d = differences(ck, prepare_ggml_experts(ck, p));
    EXPECT_EQ(fx.consistent(), d.values == 0 && d.biases == 0) << ggml_prep_id(p);
    EXPECT_EQ(fx.bias_rows_right, d.biases == 0) << ggml_prep_id(p);
    consistent += fx.consistent();
  }
  // Only the converter's pipeline is consistent: each spelling of "right" for the companion splits
  // (like-weights or right) in either form.
  EXPECT_EQ(consistent, 2 * 2 * 2);
}

TEST(GgmlConvert, DerivedEffectNamesWhatIsWrong) {
  GgmlPrep p;
  EXPECT_TRUE(derive_ggml_prep_effect(p).consistent());
  p.split = GateUpSplit::swapped;
  GgmlPrepEffect fx = derive_ggml_prep_effect(p);
  EXPECT_FALSE(fx.weight_rows_right);
  EXPECT_FALSE(fx.scale_rows_right);
  EXPECT_FALSE(fx.bias_rows_right);
  EXPECT_TRUE(fx.elements_right);
  p = {};
  p.nibbles = NibbleTransform::skipped;
  fx = derive_ggml_prep_effect(p);
  EXPECT_FALSE(fx.elements_right);
  EXPECT_TRUE(fx.weight_rows_right);
  p = {};
  p.scale_byte = ScaleByte::halved;
  EXPECT_EQ(derive_ggml_prep_effect(p).scale_exponent_shift, -1);
  p.scale_byte = ScaleByte::doubled;
  EXPECT_EQ(derive_ggml_prep_effect(p).scale_exponent_shift, 1);
}

TEST(GgmlConvert, BadCheckpointShapesAreOneLineInputErrors) {
  auto message = [](const CheckpointExperts& ck) {
    try {
      convert_checkpoint_experts(ck, "layer.safetensors");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CheckpointExperts ck = random_checkpoint(2, 64, 64, 1);
  CheckpointExperts bad = ck;
  bad.gate_up_scales = Tensor(DType::U8, {2, 128, 3});
  EXPECT_EQ(message(bad), "layer.safetensors: gate_up_scales has shape [2, 128, 3], expected [2, 128, 2] ([E, 2I, H/32])");
  bad = ck;
  bad.down_blocks = Tensor(DType::U8, {2, 64, 3, 16});
  EXPECT_EQ(message(bad),
            "layer.safetensors: down_blocks has shape [2, 64, 3, 16], but gate_up_blocks [2, 128, 2, 16] gives E = 2, "
            "H = 64, I = 64: expected [E, H, I/32, 16]");
  bad = ck;
  bad.gate_up_blocks = Tensor(DType::U8, {2, 128, 32});
  EXPECT_EQ(message(bad), "layer.safetensors: gate_up_blocks has shape [2, 128, 32], expected [E, 2I, H/32, 16]");
  bad = ck;
  bad.down_bias = Tensor(DType::I32, {2, 64});
  EXPECT_EQ(message(bad), "layer.safetensors: down_bias has dtype I32, expected F32, BF16 or F16");
  bad = ck;
  bad.gate_up_bias = Tensor();
  EXPECT_EQ(message(bad), "layer.safetensors: gate_up_bias is missing");
}

TEST(GgmlConvert, UnprepareRefusesTheOtherForm) {
  const GgmlExperts g = convert_checkpoint_experts(random_checkpoint(1, 32, 32, 2));
  GgmlPrep merged;
  merged.form = GateUpForm::merged;
  EXPECT_THROW(unprepare_ggml_experts(g, merged), InputError);
}

// ---- names -----------------------------------------------------------------------------------

template <class E>
void expect_names_round_trip() {
  const auto values = allowed_values<E>();
  EXPECT_FALSE(values.empty());
  for (const auto& v : values) {
    const auto parsed = parse<E>(v);
    ASSERT_TRUE(parsed) << v;
    EXPECT_EQ(to_string(*parsed), v);
  }
  EXPECT_EQ(parse<E>("no-such-value"), std::nullopt);
}

TEST(GgmlPrepNames, EveryEnumRoundTripsThroughItsTable) {
  expect_names_round_trip<GateUpSplit>();
  expect_names_round_trip<CompanionSplit>();
  expect_names_round_trip<NibbleTransform>();
  expect_names_round_trip<ScaleByte>();
  expect_names_round_trip<GateUpForm>();
  EXPECT_EQ(allowed_list<ScaleByte>(), "right | halved | doubled");
  EXPECT_EQ(allowed_values<CompanionSplit>().size(), 4u);
}

TEST(GgmlPrepNames, IdsRoundTripAndBadTextIsAnInputError) {
  EXPECT_EQ(ggml_prep_id(GgmlPrep{}),
            "split=right/scale_split=like-weights/bias_split=like-weights/nibbles=applied/scale_byte=right/form=separate");
  for (const GgmlPrep& p : all_preps()) EXPECT_EQ(parse_ggml_prep_id(ggml_prep_id(p)), p);
  GgmlPrep p = parse_ggml_prep_id("split=swapped/scale_byte=halved");
  EXPECT_EQ(p.split, GateUpSplit::swapped);
  EXPECT_EQ(p.scale_byte, ScaleByte::halved);
  EXPECT_EQ(p.nibbles, NibbleTransform::applied);
  try {
    parse_ggml_prep_id("split=sideways");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "split = 'sideways': expected right | swapped | halves");
  }
  EXPECT_THROW(parse_ggml_prep_id("colour=red"), InputError);
  EXPECT_THROW(parse_ggml_prep_id("split"), InputError);
}

}  // namespace
}  // namespace mxg::layout::ggml
