// Tests of generated canonical inputs: determinism, layout and compaction, bf16-exact values,
// magnitudes checked with an independent dequantiser, and what each input distribution must
// do (per cases/README.md "Inputs").
#include "harness/matrix/canonical_inputs.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "harness/matrix/input_distributions.hpp"
#include "harness/matrix/synthetic_routing.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::matrix {
namespace {

constexpr InputDist kAllInputs[] = {InputDist::Normal, InputDist::Outliers, InputDist::ZeroBlocks,
                                    InputDist::ExtremeScales, InputDist::NanScale};

// H = 128, I = 224 (seven 32-unit blocks): at tp 4 the slices are 64, 64, 64, 32 units.
ShapeSpec ragged(int tp = 4, int rank = 3) {
  ShapeSpec s;
  s.name = shape_name("ragged", tp, rank);
  s.model = "custom";
  s.hidden = 128;
  s.intermediate = 224;
  s.experts = 8;
  s.topk = 2;
  s.tp = tp;
  s.rank = rank;
  return s;
}

// LAYOUTS.md §1, written out here so the checks do not use the library's codec.
double e2m1(std::uint8_t code) {
  static const double kMagnitude[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  return (code & 8 ? -1.0 : 1.0) * kMagnitude[code & 7];
}
double e8m0(std::uint8_t s) { return std::ldexp(1.0, s - 127); }

// Row `row` of expert `m` of an expert-stacked [E, rows, K/32, 16] / [E, rows, K/32] pair, in double.
std::vector<double> dequant_row(const Tensor& blocks, const Tensor& scales, std::int64_t m, std::int64_t row) {
  const std::int64_t rows = blocks.dim(1), k = blocks.dim(2) * 32;
  const auto codes = blocks.as<std::uint8_t>().subspan(static_cast<std::size_t>((m * rows + row) * k / 2));
  const auto scale = scales.as<std::uint8_t>().subspan(static_cast<std::size_t>((m * rows + row) * k / 32));
  std::vector<double> out(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) {
    const std::uint8_t byte = codes[static_cast<std::size_t>(i / 2)];
    out[static_cast<std::size_t>(i)] = e2m1(i % 2 == 0 ? byte & 0xF : byte >> 4) * e8m0(scale[static_cast<std::size_t>(i / 32)]);
  }
  return out;
}

// h = W13[m] x_t + b13[m] for every checkpoint row.
std::vector<double> gate_up_output(const CanonicalInputs& in, std::int64_t m, std::int64_t t) {
  const std::int64_t rows = in.gate_up_blocks.dim(1), H = in.hidden.dim(1);
  const auto x = in.hidden.as<float>().subspan(static_cast<std::size_t>(t * H), static_cast<std::size_t>(H));
  std::vector<double> h(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto w = dequant_row(in.gate_up_blocks, in.gate_up_scales, m, r);
    double acc = in.gate_up_bias.as<float>()[static_cast<std::size_t>(m * rows + r)];
    for (std::int64_t i = 0; i < H; ++i) acc += w[static_cast<std::size_t>(i)] * x[static_cast<std::size_t>(i)];
    h[static_cast<std::size_t>(r)] = acc;
  }
  return h;
}

double rms(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

bool bf16_exact(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return (bits & 0xFFFFu) == 0;
}

// The units rank r loads at tp (LAYOUTS.md §4): P = ceil((I/32)/tp)·32, [r·P, min((r+1)·P, I)).
std::pair<std::int64_t, std::int64_t> rank_units(std::int64_t I, int tp, int rank) {
  const std::int64_t P = (I / 32 + tp - 1) / tp * 32;
  return {std::min(rank * P, I), std::min((rank + 1) * P, I)};
}

std::vector<std::int64_t> routed_materialised(const CanonicalInputs& in) {
  std::set<std::int64_t> s;
  for (std::int32_t id : in.topk_ids.as<std::int32_t>()) s.insert(id);
  return {s.begin(), s.end()};
}

bool same(const CanonicalInputs& a, const CanonicalInputs& b) {
  return a.expert_ids == b.expert_ids && a.gate_up_blocks.same_bytes(b.gate_up_blocks) &&
         a.gate_up_scales.same_bytes(b.gate_up_scales) && a.gate_up_bias.same_bytes(b.gate_up_bias) &&
         a.down_blocks.same_bytes(b.down_blocks) && a.down_scales.same_bytes(b.down_scales) &&
         a.down_bias.same_bytes(b.down_bias) && a.hidden.same_bytes(b.hidden) && a.topk_ids.same_bytes(b.topk_ids) &&
         a.topk_weights.same_bytes(b.topk_weights);
}

TEST(GenerateInputs, TensorsHaveTheCheckpointShapes) {
  const CanonicalInputs in = generate_inputs(ragged(), 16, Routing::Uniform, InputDist::Normal, 0);
  const auto E = static_cast<std::int64_t>(in.expert_ids.size());
  EXPECT_EQ(in.gate_up_blocks.shape(), (Shape{E, 448, 4, 16}));
  EXPECT_EQ(in.gate_up_scales.shape(), (Shape{E, 448, 4}));
  EXPECT_EQ(in.gate_up_bias.shape(), (Shape{E, 448}));
  EXPECT_EQ(in.down_blocks.shape(), (Shape{E, 128, 7, 16}));
  EXPECT_EQ(in.down_scales.shape(), (Shape{E, 128, 7}));
  EXPECT_EQ(in.down_bias.shape(), (Shape{E, 128}));
  EXPECT_EQ(in.hidden.shape(), (Shape{16, 128}));
  EXPECT_EQ(in.topk_ids.shape(), (Shape{16, 2}));
  EXPECT_EQ(in.topk_weights.shape(), (Shape{16, 2}));
  EXPECT_EQ(in.gate_up_blocks.dtype(), DType::U8);
  EXPECT_EQ(in.gate_up_bias.dtype(), DType::F32);
  EXPECT_EQ(in.topk_ids.dtype(), DType::I32);
  EXPECT_EQ(in.hidden.dtype(), DType::F32);
}

TEST(GenerateInputs, SameSeedSameBytesOtherSeedOtherBytes) {
  for (InputDist dist : kAllInputs) {
    const auto a = generate_inputs(ragged(), 8, Routing::Skewed, dist, 42);
    const auto b = generate_inputs(ragged(), 8, Routing::Skewed, dist, 42);
    EXPECT_TRUE(same(a, b)) << input_dist_name(dist);
    const auto c = generate_inputs(ragged(), 8, Routing::Skewed, dist, 43);
    EXPECT_FALSE(c.hidden.same_bytes(a.hidden)) << input_dist_name(dist);
    EXPECT_FALSE(c.topk_weights.same_bytes(a.topk_weights)) << input_dist_name(dist);
    if (c.expert_ids == a.expert_ids) {
      EXPECT_FALSE(c.gate_up_blocks.same_bytes(a.gate_up_blocks));
    }
  }
}

TEST(GenerateInputs, AnExpertsWeightsDependOnlyOnItsModelNumber) {
  const auto a = generate_inputs(ragged(), 4, Routing::Uniform, InputDist::Normal, 5);
  const auto b = generate_inputs(ragged(), 16, Routing::Skewed, InputDist::Normal, 5);
  const std::size_t per_expert = a.gate_up_blocks.nbytes() / a.expert_ids.size();
  int common = 0;
  for (std::size_t i = 0; i < a.expert_ids.size(); ++i) {
    const auto j = std::find(b.expert_ids.begin(), b.expert_ids.end(), a.expert_ids[i]) - b.expert_ids.begin();
    if (j == std::ssize(b.expert_ids)) continue;
    ++common;
    const auto x = a.gate_up_blocks.bytes().subspan(i * per_expert, per_expert);
    const auto y = b.gate_up_blocks.bytes().subspan(static_cast<std::size_t>(j) * per_expert, per_expert);
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin())) << "model expert " << a.expert_ids[i];
  }
  EXPECT_GT(common, 0);
}

TEST(GenerateInputs, FirstTokensDoNotDependOnTheTokenCount) {
  const auto few = generate_inputs(ragged(), 4, Routing::OneExpert, InputDist::ZeroBlocks, 6);
  const auto many = generate_inputs(ragged(), 16, Routing::OneExpert, InputDist::ZeroBlocks, 6);
  const auto h_few = few.hidden.as<float>(), h_many = many.hidden.as<float>();
  EXPECT_TRUE(std::equal(h_few.begin(), h_few.end(), h_many.begin()));
  const auto ids_few = few.topk_ids.as<std::int32_t>(), ids_many = many.topk_ids.as<std::int32_t>();
  for (std::size_t i = 0; i < ids_few.size(); ++i) {
    EXPECT_EQ(few.expert_ids[static_cast<std::size_t>(ids_few[i])], many.expert_ids[static_cast<std::size_t>(ids_many[i])]);
  }
}

TEST(GenerateInputs, CompactionKeepsExactlyTheRoutedExperts) {
  for (Routing routing : {Routing::Uniform, Routing::Skewed, Routing::OneExpert, Routing::SomeEmpty}) {
    const ShapeSpec shape = ragged();
    const auto in = generate_inputs(shape, 5, routing, InputDist::Normal, 3);
    const TokenRouting model = route_tokens(shape.experts, shape.topk, 5, routing, 3);
    ASSERT_TRUE(std::is_sorted(in.expert_ids.begin(), in.expert_ids.end()));
    ASSERT_EQ(std::adjacent_find(in.expert_ids.begin(), in.expert_ids.end()), in.expert_ids.end());
    const auto ids = in.topk_ids.as<std::int32_t>();
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ASSERT_GE(ids[i], 0);
      ASSERT_LT(static_cast<std::size_t>(ids[i]), in.expert_ids.size());
      EXPECT_EQ(in.expert_ids[static_cast<std::size_t>(ids[i])], model.experts[i]) << routing_name(routing);
    }
    // Materialised = routed, plus the idle ones of some-empty.
    const auto routed = routed_materialised(in);
    EXPECT_EQ(in.expert_ids.size(), routed.size() + model.idle_experts.size()) << routing_name(routing);
    const auto weights = in.topk_weights.as<float>();
    EXPECT_TRUE(std::equal(weights.begin(), weights.end(), model.weights.begin()));
  }
  const auto some_empty = generate_inputs(ragged(), 1, Routing::SomeEmpty, InputDist::Normal, 3);
  EXPECT_GT(some_empty.expert_ids.size(), routed_materialised(some_empty).size()) << "no empty expert materialised";
}

TEST(GenerateInputs, FloatInputsAreBf16ValuesAndBiasesAreVisible) {
  for (InputDist dist : kAllInputs) {
    const auto in = generate_inputs(ragged(), 16, Routing::Uniform, dist, 1);
    for (const Tensor* t : {&in.hidden, &in.gate_up_bias, &in.down_bias}) {
      for (float v : t->as<float>()) ASSERT_TRUE(bf16_exact(v)) << input_dist_name(dist) << ": " << v;
    }
    if (dist == InputDist::ExtremeScales) continue;  // its down bias is scaled by 2^±100
    // Biases ~ N(0, 0.5²): a misplaced bias moves outputs by O(0.5).
    for (const Tensor* t : {&in.gate_up_bias, &in.down_bias}) {
      const auto v = t->to_f32();
      std::vector<double> d(v.begin(), v.end());
      EXPECT_NEAR(rms(d), 0.5, 0.1) << input_dist_name(dist);
    }
  }
}

// With random codes and the chosen scale exponent, W13·x stays O(1) at the real K = 2880.
TEST(GenerateInputs, ProjectionsOfNormalInputsAreOrderOne) {
  ShapeSpec s = model_shape("gptoss20b", 1, 0);
  const auto in = generate_inputs(s, 1, Routing::Uniform, InputDist::Normal, 0);
  const auto h = gate_up_output(in, 0, 0);
  EXPECT_GT(rms(h), 0.5);
  EXPECT_LT(rms(h), 4.0);
  // SwiGLU (LAYOUTS.md §3) then the down projection of expert 0, also O(1).
  std::vector<double> a(h.size() / 2);
  for (std::size_t j = 0; j < a.size(); ++j) {
    const double gate = std::min(h[2 * j], 7.0), up = std::clamp(h[2 * j + 1], -7.0, 7.0);
    a[j] = (up + 1) * gate / (1 + std::exp(-1.702 * gate));
  }
  std::vector<double> o(static_cast<std::size_t>(s.hidden));
  for (std::int64_t r = 0; r < s.hidden; ++r) {
    const auto w = dequant_row(in.down_blocks, in.down_scales, 0, r);
    for (std::size_t j = 0; j < a.size(); ++j) o[static_cast<std::size_t>(r)] += w[j] * a[j];
  }
  EXPECT_GT(rms(o), 0.3);
  EXPECT_LT(rms(o), 20.0);
}

TEST(NanScale, ExactlyOneDownScaleIsNanOnARoutedExpertInsideTheRankSlice) {
  for (int rank = 0; rank < 4; ++rank) {
    for (std::uint64_t seed = 0; seed < 6; ++seed) {
      const ShapeSpec shape = ragged(4, rank);
      const auto in = generate_inputs(shape, 3, Routing::SomeEmpty, InputDist::NanScale, seed);
      ASSERT_TRUE(in.nan_scale.has_value());
      const auto down = in.down_scales.as<std::uint8_t>();
      ASSERT_EQ(std::count(down.begin(), down.end(), 255), 1);
      const auto gate_up = in.gate_up_scales.as<std::uint8_t>();
      EXPECT_EQ(std::count(gate_up.begin(), gate_up.end(), 255), 0);
      const ScaleSite site = *in.nan_scale;
      const std::int64_t cols = in.down_scales.dim(2);
      EXPECT_EQ(down[static_cast<std::size_t>((site.expert * shape.hidden + site.row) * cols + site.block)], 255);
      const auto routed = routed_materialised(in);
      EXPECT_TRUE(std::binary_search(routed.begin(), routed.end(), site.expert)) << "NaN on an expert without tokens";
      const auto [begin, end] = rank_units(shape.intermediate, shape.tp, shape.rank);
      EXPECT_GE(site.block * 32, begin);
      EXPECT_LT(site.block * 32, end);
    }
  }
}

TEST(NanScale, OtherDistributionsHaveNoNan) {
  for (InputDist dist : kAllInputs) {
    if (dist == InputDist::NanScale) continue;
    const auto in = generate_inputs(ragged(), 16, Routing::Uniform, dist, 2);
    EXPECT_FALSE(in.nan_scale.has_value());
    for (const Tensor* t : {&in.gate_up_scales, &in.down_scales}) {
      const auto s = t->as<std::uint8_t>();
      EXPECT_EQ(std::count(s.begin(), s.end(), 255), 0) << input_dist_name(dist);
    }
  }
}

TEST(ExtremeScales, ScalesReachBothEndsOfE8M0WhileProductsKeepTheirSize) {
  for (std::uint64_t seed : {0u, 1u}) {
    const ShapeSpec shape = ragged(1, 0);
    const auto normal = generate_inputs(shape, 2, Routing::Uniform, InputDist::Normal, seed);
    const auto extreme = generate_inputs(shape, 2, Routing::Uniform, InputDist::ExtremeScales, seed);
    const auto scales = extreme.gate_up_scales.as<std::uint8_t>();
    const auto [lo, hi] = std::minmax_element(scales.begin(), scales.end());
    EXPECT_LT(*lo, 24);
    EXPECT_GT(*hi, 230);
    EXPECT_GT(*lo, 0);
    EXPECT_LT(*hi, 255);
    // Every dequantised weight and activation is finite and, unless zero, a normal float.
    for (std::int64_t m = 0; m < std::ssize(extreme.expert_ids); ++m) {
      for (std::int64_t r = 0; r < extreme.gate_up_blocks.dim(1); ++r) {
        for (double w : dequant_row(extreme.gate_up_blocks, extreme.gate_up_scales, m, r)) {
          const float f = static_cast<float>(w);
          ASSERT_TRUE(f == 0 || std::fpclassify(f) == FP_NORMAL) << w;
        }
      }
    }
    for (float x : extreme.hidden.as<float>()) ASSERT_TRUE(x == 0 || std::fpclassify(x) == FP_NORMAL) << x;
    // The activations compensate the weight scales: W13·x is what it was, up to the floor
    // placed under tiny activations.
    for (std::int64_t t = 0; t < 2; ++t) {
      const auto h_normal = gate_up_output(normal, 0, t), h_extreme = gate_up_output(extreme, 0, t);
      double diff = 0;
      for (std::size_t i = 0; i < h_normal.size(); ++i) diff = std::max(diff, std::fabs(h_normal[i] - h_extreme[i]));
      EXPECT_LT(diff, 0.05 * rms(h_normal)) << "seed " << seed;
    }
    // down_proj: one shift of +100 binades for even seeds, -100 for odd ones, bias included.
    const int shift = seed % 2 == 0 ? 100 : -100;
    const auto down_n = normal.down_scales.as<std::uint8_t>(), down_x = extreme.down_scales.as<std::uint8_t>();
    for (std::size_t i = 0; i < down_n.size(); ++i) ASSERT_EQ(down_x[i] - down_n[i], shift);
    const auto bias_n = normal.down_bias.as<float>(), bias_x = extreme.down_bias.as<float>();
    for (std::size_t i = 0; i < bias_n.size(); ++i) ASSERT_EQ(bias_x[i], std::ldexp(bias_n[i], shift));
  }
}

TEST(Outliers, AFewChannelsAreFiftyTimesLargerAndAFewBlocksHaveTheLargestScale) {
  const ShapeSpec shape = model_shape("gptoss20b", 8, 7);
  const auto normal = generate_inputs(shape, 3, Routing::Uniform, InputDist::Normal, 4);
  const auto outliers = generate_inputs(shape, 3, Routing::Uniform, InputDist::Outliers, 4);
  const auto xn = normal.hidden.as<float>(), xo = outliers.hidden.as<float>();
  std::set<std::int64_t> channels;
  for (std::size_t i = 0; i < xn.size(); ++i) {
    if (xn[i] == xo[i]) continue;
    channels.insert(static_cast<std::int64_t>(i) % shape.hidden);
    EXPECT_NEAR(xo[i], 50.0 * xn[i], std::fabs(50.0 * xn[i]) * 0x1.0p-8);
  }
  EXPECT_EQ(channels.size(), 4u);  // 2880 / 720

  // Ordinary gate_up scales are 127 + X ± 1 with X = -round(log2(sqrt(2880 · 137/16))) = -7.
  const auto sn = normal.gate_up_scales.as<std::uint8_t>(), so = outliers.gate_up_scales.as<std::uint8_t>();
  EXPECT_EQ(*std::max_element(sn.begin(), sn.end()), 121);
  EXPECT_EQ(*std::min_element(sn.begin(), sn.end()), 119);
  const std::int64_t per_expert = 2 * shape.intermediate * shape.hidden / 32;
  const auto [begin, end] = rank_units(shape.intermediate, shape.tp, shape.rank);
  for (std::size_t m = 0; m < outliers.expert_ids.size(); ++m) {
    int boosted = 0;
    for (std::int64_t i = 0; i < per_expert; ++i) {
      if (so[m * per_expert + i] <= 121) continue;
      ++boosted;
      const std::int64_t unit = i / (shape.hidden / 32) / 2;
      EXPECT_TRUE(unit >= begin && unit < end) << "outlier block outside the rank's rows";
    }
    EXPECT_GE(boosted, 1);
    EXPECT_LE(boosted, 8);
  }
}

TEST(ZeroBlocks, AboutOneWeightBlockInEightAndEveryTokenHasAZeroHiddenBlock) {
  const ShapeSpec shape = ragged(2, 1);
  const auto normal = generate_inputs(shape, 16, Routing::Uniform, InputDist::Normal, 9);
  const auto zeroed = generate_inputs(shape, 16, Routing::Uniform, InputDist::ZeroBlocks, 9);
  for (const Tensor* t : {&zeroed.gate_up_blocks, &zeroed.down_blocks}) {
    const auto b = t->as<std::uint8_t>();
    std::int64_t zero = 0, blocks = std::ssize(b) / 16;
    for (std::int64_t i = 0; i < blocks; ++i) zero += std::all_of(b.begin() + i * 16, b.begin() + i * 16 + 16, [](auto v) { return v == 0; });
    EXPECT_NEAR(static_cast<double>(zero) / static_cast<double>(blocks), 1.0 / 8, 0.03);
  }
  EXPECT_TRUE(zeroed.gate_up_scales.same_bytes(normal.gate_up_scales)) << "zero-blocks changes codes, not scales";
  const auto x = zeroed.hidden.as<float>();
  for (std::int64_t t = 0; t < 16; ++t) {
    int zero_blocks = 0;
    for (std::int64_t b = 0; b < shape.hidden / 32; ++b) {
      const auto start = x.begin() + t * shape.hidden + b * 32;
      zero_blocks += std::all_of(start, start + 32, [](float v) { return v == 0; });
    }
    EXPECT_GE(zero_blocks, 1) << "token " << t;
  }
}

TEST(GenerateInputs, RejectsShapesItCannotGenerate) {
  ShapeSpec s = ragged();
  s.hidden = 100;
  EXPECT_THROW(generate_inputs(s, 1, Routing::Uniform, InputDist::Normal, 0), InputError);
  s = ragged();
  s.topk = 9;
  EXPECT_THROW(generate_inputs(s, 1, Routing::Uniform, InputDist::Normal, 0), InputError);
  s = ragged(8, 7);  // I = 224 leaves rank 7 of 8 without units
  EXPECT_THROW(generate_inputs(s, 1, Routing::Uniform, InputDist::NanScale, 0), InputError);
  EXPECT_THROW(generate_inputs(ragged(), 0, Routing::Uniform, InputDist::Normal, 0), InputError);
}

}  // namespace
}  // namespace mxg::matrix
