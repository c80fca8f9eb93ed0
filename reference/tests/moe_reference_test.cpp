// Tests of the reference MoE layer: agreement with the independent scalar fp64 oracle, hand-worked
// SwiGLU cases, experts without tokens, NaN scales, thread-count invariance and input validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <set>

#include "kernels/common/errors.hpp"
#include "reference/moe_forward.hpp"
#include "reference/tests/layer_fixture.hpp"
#include "reference/tests/scalar_oracle.hpp"

namespace mxg::ref::testing {
namespace {

MoeConfig small_config(std::int64_t H, std::int64_t I, std::int64_t E, std::int64_t k) {
  MoeConfig c;
  c.hidden = H;
  c.intermediate = I;
  c.experts = E;
  c.topk = k;
  return c;
}

Routing to_routing(const OracleRouting& o, std::int64_t T, std::int64_t k) {
  Routing r;
  r.tokens = T;
  r.topk = k;
  r.ids.assign(o.ids.begin(), o.ids.end());
  r.weights = o.weights;
  return r;
}

ReferenceResult run(const RawLayer& l, const std::vector<double>& x, std::int64_t T, Precision p, int threads = 2,
                    const std::optional<Routing>& given = std::nullopt, std::int64_t block_rows = 0) {
  ForwardOptions o;
  o.precision = p;
  o.threads = threads;
  o.block_rows = block_rows;
  return run_reference(l.config, l.tensors(), f32_tensor(x, {T, l.config.hidden}), given, o);
}

// max |a - b| / max |b|: a norm-wise relative error that a single bad element cannot hide in.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

struct OracleCase {
  std::int64_t H, I, E, k, T;
  RouterMode router;
  Activation activation;
  std::int64_t block_rows;
};

class AgreesWithOracle : public ::testing::TestWithParam<OracleCase> {};

TEST_P(AgreesWithOracle, F64WithinOneE10AndF32Close) {
  const OracleCase& p = GetParam();
  MoeConfig c = small_config(p.H, p.I, p.E, p.k);
  c.router = p.router;
  c.activation = p.activation;
  const RawLayer layer = random_layer(c, 1000 + p.H + p.E + p.T);
  const std::vector<double> x = random_hidden(p.T, p.H, 77 + p.T);
  const OracleRouting expected_routing = oracle_route(layer, x, p.T);
  const std::vector<double> expected = oracle_moe(layer, x, p.T, expected_routing);

  const ReferenceResult f64 = run(layer, x, p.T, Precision::F64, 3, std::nullopt, p.block_rows);
  ASSERT_EQ(f64.y.dtype(), DType::F64);
  ASSERT_EQ(f64.y.shape(), (Shape{p.T, p.H}));
  EXPECT_EQ(std::vector<int>(f64.routing.ids.begin(), f64.routing.ids.end()), expected_routing.ids);
  EXPECT_LE(relative_error(f64.routing.weights, expected_routing.weights), 1e-12);
  EXPECT_LE(relative_error(tensor_values(f64.y), expected), 1e-10);

  // float: same experts (random logits are far from ties), error at float rounding level.
  const ReferenceResult f32 = run(layer, x, p.T, Precision::F32, 2, std::nullopt, p.block_rows);
  ASSERT_EQ(f32.y.dtype(), DType::F32);
  EXPECT_EQ(f32.routing.ids, f64.routing.ids);
  EXPECT_LE(relative_error(tensor_values(f32.y), expected), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AgreesWithOracle,
    ::testing::Values(
        OracleCase{64, 64, 6, 2, 9, RouterMode::TopkSoftmax, Activation::SwigluOai, 0},
        // block_rows 48 leaves a 32-row remainder block in both passes (2I = 128, H = 96... ragged)
        OracleCase{96, 64, 5, 3, 17, RouterMode::TopkSoftmax, Activation::SwigluOai, 48},
        OracleCase{32, 32, 4, 4, 1, RouterMode::TopkSoftmax, Activation::SwigluOai, 0},  // k = E, decode
        OracleCase{64, 32, 8, 2, 12, RouterMode::SoftmaxTopkRenorm, Activation::SwigluOai, 16},
        OracleCase{64, 32, 8, 2, 12, RouterMode::SoftmaxTopk, Activation::Silu, 0},
        OracleCase{32, 96, 3, 1, 5, RouterMode::TopkSoftmax, Activation::Silu, 64}));

TEST(MoeReference, GivenRoutingIsUsedAsIsAndBf16HiddenMatchesF32) {
  const MoeConfig c = small_config(64, 32, 6, 2);
  const RawLayer layer = random_layer(c, 5);
  const std::int64_t T = 4;
  const std::vector<double> x = random_hidden(T, c.hidden, 6);
  // Deliberately not what the router would pick, with weights that do not sum to 1.
  OracleRouting given{{5, 0, 1, 1, 2, 3, 4, 5}, {0.25, 1.5, 0.5, -0.5, 1.0, 0.0, 0.125, 2.0}};
  const std::vector<double> expected = oracle_moe(layer, x, T, given);
  const ReferenceResult r = run(layer, x, T, Precision::F64, 2, to_routing(given, T, 2));
  EXPECT_EQ(r.routing.ids, std::vector<std::int32_t>(given.ids.begin(), given.ids.end()));
  EXPECT_LE(relative_error(tensor_values(r.y), expected), 1e-10);

  ForwardOptions o;
  o.precision = Precision::F64;
  const Tensor y_bf16 = run_reference(c, layer.tensors(true), bf16_tensor(x, {T, c.hidden}),
                                      to_routing(given, T, 2), o).y;
  EXPECT_TRUE(y_bf16.same_bytes(r.y));  // x is exact in bf16, F32 biases equal the BF16 ones
}

// Hand-worked SwiGLU cases. Blank layer (all codes 0) with H = I = 32, one expert, hidden x = 0:
// then h = b13, so the gate and up of unit 0 are the biases b13[0] (row 0) and b13[1] (row 1);
// every other unit has gate = up = 0 and a = 0. w2 row 0 has element 0 = code 2 (1.0) at scale
// byte 127 (1.0), so y[0] = a_0 and y[1..31] = 0.
struct SwigluCase {
  double gate, up;
  Activation activation;
  double expected;  // worked out in the comment of each instance
};

class HandWorkedSwiglu : public ::testing::TestWithParam<SwigluCase> {};

TEST_P(HandWorkedSwiglu, UnitZeroOutputIsTheHandValue) {
  const SwigluCase& p = GetParam();
  MoeConfig c = small_config(32, 32, 1, 1);
  c.activation = p.activation;
  RawLayer layer = blank_layer(c);
  layer.w13_bias[0] = p.gate;
  layer.w13_bias[1] = p.up;
  layer.w2_blocks[0] = 0x02;  // row 0, element 0 (low nibble) = 1.0
  for (Precision precision : {Precision::F64, Precision::F32}) {
    const ReferenceResult r = run(layer, std::vector<double>(32, 0.0), 1, precision);
    const std::vector<double> y = tensor_values(r.y);
    EXPECT_NEAR(y[0], p.expected, 2e-6 * std::max(1.0, std::fabs(p.expected))) << precision_name(precision);
    for (int h = 1; h < 32; ++h) EXPECT_EQ(y[h], 0.0) << h;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HandWorkedSwiglu,
    ::testing::Values(
        // gate 8 is clamped to 7: (0 + 1) * 7 * sigmoid(1.702 * 7) = 7 / (1 + e^-11.914)
        //   = 7 / (1 + 6.696e-6) = 6.9999531 (unclamped it would be 8 * sigmoid(13.616) = 7.9999902)
        SwigluCase{8.0, 0.0, Activation::SwigluOai, 6.999953128},
        // the sigmoid: gate 1, up 0: 1 * sigmoid(1.702) = 1 / (1 + 0.1823185) = 0.8457958 (not 1)
        SwigluCase{1.0, 0.0, Activation::SwigluOai, 0.845795766},
        // the +1: gate 2, up 0.5: (0.5 + 1) * 2 * sigmoid(3.404) = 3 / (1 + 0.0332400) = 2.9034879
        //   (without the +1: 0.5 * 2 * sigmoid(3.404) = 0.9678293)
        SwigluCase{2.0, 0.5, Activation::SwigluOai, 2.903487935},
        // up -9 is clamped to -7: (-7 + 1) * 1 * sigmoid(1.702) = -6 * 0.8457958 = -5.0747746
        SwigluCase{1.0, -9.0, Activation::SwigluOai, -5.074774596},
        // up 9 is clamped to 7 and gate 0.5 is left alone: 8 * 0.5 * sigmoid(0.851)
        //   = 4 / (1 + e^-0.851) = 4 / (1 + 0.4269877) = 2.8031075
        SwigluCase{0.5, 9.0, Activation::SwigluOai, 2.803107493},
        // plain SiLU, no clamp and no +1: silu(2) * 3 = 2 / (1 + e^-2) * 3 = 6 / 1.1353353 = 5.2847825
        SwigluCase{2.0, 3.0, Activation::Silu, 5.284782468},
        // SiLU does not clamp: silu(10) * 10 = 100 / (1 + 4.54e-5) = 99.9954602
        SwigluCase{10.0, 10.0, Activation::Silu, 99.99546021}));

// One case through the weights rather than the biases, exercising a high nibble, the second scale
// block of a row, the row interleave and the w2 bias. H = 64 (two scale blocks per w13 row), I = 32,
// one expert; x[33] = 1.5, everything else 0.
//   gate_0 = W13[row 0][33] * 1.5: byte 16 of row 0 holds elements 32 (low) and 33 (high); high
//            nibble = code 5 (3.0), scale block 1 of row 0 = byte 126 (0.5) -> 1.5; gate = 2.25.
//   up_0   = W13[row 1][33] * 1.5: high nibble code 9 (-0.5), scale byte 127 -> -0.5; up = -0.75.
//   a_0    = (-0.75 + 1) * 2.25 * sigmoid(1.702 * 2.25) = 0.5625 / (1 + e^-3.8295)
//          = 0.5625 / 1.0217205 = 0.5505420
//   y[3]   = W2[row 3][0] * a_0 + b2[3]: code 6 (4.0) at scale byte 125 (0.25) = 1.0; b2[3] = 0.5
//          -> 1.0505420. Every other y[h] = b2[h] = 0.
TEST(MoeReference, HandWorkedCaseThroughTheWeights) {
  const MoeConfig c = small_config(64, 32, 1, 1);
  RawLayer layer = blank_layer(c);
  const std::int64_t H = 64, I = 32;
  layer.w13_blocks[0 * (H / 2) + 16] = 0x50;   // row 0 byte 16: high nibble 5
  layer.w13_scales[0 * (H / 32) + 1] = 126;    // row 0 block 1
  layer.w13_blocks[1 * (H / 2) + 16] = 0x90;   // row 1 byte 16: high nibble 9
  layer.w2_blocks[3 * (I / 2) + 0] = 0x06;     // w2 row 3 element 0: code 6
  layer.w2_scales[3 * (I / 32) + 0] = 125;
  layer.w2_bias[3] = 0.5;
  std::vector<double> x(H, 0.0);
  x[33] = 1.5;
  const std::vector<double> y = tensor_values(run(layer, x, 1, Precision::F64).y);
  EXPECT_NEAR(y[3], 1.050541968, 1e-9);
  for (std::int64_t h = 0; h < H; ++h) {
    if (h != 3) {
      EXPECT_EQ(y[h], 0.0) << h;
    }
  }
}

TEST(MoeReference, ExpertsWithoutTokensAreNeverRead) {
  const MoeConfig c = small_config(64, 64, 6, 2);
  RawLayer layer = random_layer(c, 11);
  const std::int64_t T = 5, H = c.hidden, I = c.intermediate;
  // Poison every scale of the experts nobody is routed to: any read of them would give NaN.
  const std::set<int> used = {1, 4};
  for (int e = 0; e < 6; ++e) {
    if (used.contains(e)) continue;
    std::fill_n(layer.w13_scales.begin() + e * 2 * I * (H / 32), 2 * I * (H / 32), 255);
    std::fill_n(layer.w2_scales.begin() + e * H * (I / 32), H * (I / 32), 255);
  }
  const OracleRouting given{{1, 4, 4, 1, 1, 4, 4, 1, 1, 4}, {0.5, 0.5, 0.75, 0.25, 0.125, 0.875, 1, 0, 0.5, 0.5}};
  const std::vector<double> x = random_hidden(T, H, 12);
  const std::vector<double> expected = oracle_moe(layer, x, T, given);
  for (double v : expected) ASSERT_TRUE(std::isfinite(v));
  const std::vector<double> y = tensor_values(run(layer, x, T, Precision::F64, 4, to_routing(given, T, 2)).y);
  EXPECT_LE(relative_error(y, expected), 1e-10);

  // All tokens on one expert (the other five have no tokens).
  const OracleRouting one{{4, 1, 4, 1, 4, 1, 4, 1, 4, 1}, {0.6, 0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4}};
  const std::vector<double> y_one = tensor_values(run(layer, x, T, Precision::F64, 4, to_routing(one, T, 2)).y);
  EXPECT_LE(relative_error(y_one, oracle_moe(layer, x, T, one)), 1e-10);
}

TEST(MoeReference, NanScaleReachesExactlyTheTokensOfThatExpert) {
  const MoeConfig c = small_config(64, 32, 6, 2);
  RawLayer layer = random_layer(c, 21);
  const std::int64_t T = 24, H = c.hidden, I = c.intermediate;
  // A NaN w13 scale (expert 3, row 7 = up unit 3, block 1) makes one unit NaN, and w2 mixes every
  // unit into every hidden row: every output of a token routed to expert 3 becomes NaN.
  layer.w13_scales[(3 * 2 * I + 7) * (H / 32) + 1] = 255;
  // A NaN w2 scale (expert 5, hidden row 9) only spoils hidden row 9 of expert 5's tokens.
  layer.w2_scales[(5 * H + 9) * (I / 32) + 0] = 255;
  const std::vector<double> x = random_hidden(T, H, 22);
  const ReferenceResult r = run(layer, x, T, Precision::F32, 3);
  const std::vector<double> y = tensor_values(r.y);
  std::int64_t routed_to_3 = 0, routed_to_5_only = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    const bool has3 = r.routing.id(t, 0) == 3 || r.routing.id(t, 1) == 3;
    const bool has5 = r.routing.id(t, 0) == 5 || r.routing.id(t, 1) == 5;
    routed_to_3 += has3;
    routed_to_5_only += has5 && !has3;
    for (std::int64_t h = 0; h < H; ++h) {
      const bool expect_nan = has3 || (has5 && h == 9);
      EXPECT_EQ(std::isnan(y[t * H + h]), expect_nan) << "token " << t << " row " << h;
    }
  }
  // The random routing must actually exercise both cases for this test to mean anything.
  ASSERT_GT(routed_to_3, 0);
  ASSERT_GT(routed_to_5_only, 0);
  ASSERT_LT(routed_to_3, T);
}

TEST(MoeReference, ThreadCountDoesNotChangeASingleBit) {
  const MoeConfig c = small_config(64, 96, 16, 4);
  const RawLayer layer = random_layer(c, 31);
  const std::int64_t T = 37;
  const std::vector<double> x = random_hidden(T, c.hidden, 32);
  for (Precision p : {Precision::F32, Precision::F64}) {
    const ReferenceResult one = run(layer, x, T, p, 1, std::nullopt, 32);
    const ReferenceResult four = run(layer, x, T, p, 4, std::nullopt, 32);
    EXPECT_TRUE(one.y.same_bytes(four.y)) << precision_name(p);
    EXPECT_EQ(one.routing.ids, four.routing.ids);
  }
}

// Validation: every rejection names what is wrong.
void expect_input_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    for (const auto& fragment : fragments) EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(MoeReferenceValidation, RejectsBadShapesWithClearMessages) {
  const MoeConfig c = small_config(64, 32, 4, 2);
  const RawLayer layer = random_layer(c, 41);
  const ForwardOptions o;
  expect_input_error([&] { run_reference(c, layer.tensors(), Tensor(DType::F32, {0, 64}), std::nullopt, o, "x.st"); },
                     {"x.st", "dimension 0 (tokens) is 0"});
  expect_input_error([&] { run_reference(c, layer.tensors(), Tensor(DType::F32, {2, 96}), std::nullopt, o, "x.st"); },
                     {"x.st", "dimension 1 is 96", "hidden_size = 64"});
  expect_input_error([&] { run_reference(c, layer.tensors(), Tensor(DType::I32, {2, 64}), std::nullopt, o, "x.st"); },
                     {"x.st", "dtype I32"});

  MoeWeights w = layer.tensors();
  w.w13_blocks = Tensor(DType::U8, {4, 62, 2, 16});
  w.labels.w13_blocks = "ckpt.safetensors: tensor 'gate_up_proj_blocks'";
  expect_input_error([&] { run_reference(c, w, Tensor(DType::F32, {2, 64}), std::nullopt, o); },
                     {"gate_up_proj_blocks", "dimension 1 is 62", "2*intermediate_size = 64"});
  w = layer.tensors();
  w.w2_scales = Tensor(DType::U8, {4, 64});
  expect_input_error([&] { run_reference(c, w, Tensor(DType::F32, {2, 64}), std::nullopt, o); },
                     {"w2_scales", "rank 2", "expected rank 3"});
  w = layer.tensors();
  w.w2_bias = Tensor(DType::U8, {4, 64});
  expect_input_error([&] { run_reference(c, w, Tensor(DType::F32, {2, 64}), std::nullopt, o); },
                     {"w2_bias", "dtype U8 is not supported"});
  // Router tensors are needed only when the routing is computed.
  w = layer.tensors();
  w.router_weight = Tensor();
  expect_input_error([&] { run_reference(c, w, Tensor(DType::F32, {2, 64}), std::nullopt, o); }, {"router_weight"});
  Routing given{2, 2, {0, 1, 2, 3}, {0.5, 0.5, 0.5, 0.5}};
  EXPECT_NO_THROW(run_reference(c, w, Tensor(DType::F32, {2, 64}), given, o));

  given.ids[3] = 4;
  expect_input_error([&] { run_reference(c, layer.tensors(), Tensor(DType::F32, {2, 64}), given, o); },
                     {"topk_ids[1, 1]", "expert 4", "[0, 4)"});
  MoeConfig odd = c;
  odd.intermediate = 48;
  expect_input_error([&] { run_reference(odd, layer.tensors(), Tensor(DType::F32, {2, 64}), std::nullopt, o); },
                     {"intermediate_size = 48", "multiple of 32"});
}

}  // namespace
}  // namespace mxg::ref::testing
