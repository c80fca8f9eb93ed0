// Tests of the router: top-k order and tie-breaking (lower expert index wins), NaN logits, the
// three weight modes on hand-computed values, and routings read from tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/common/errors.hpp"
#include "reference/routing.hpp"
#include "reference/tests/layer_fixture.hpp"

namespace mxg::ref::testing {
namespace {

TEST(SelectExperts, TiesGoToTheLowerExpertIndex) {
  // Experts 1, 2 and 4 tie at 3: the lower indices 1 and 2 win, in that order.
  const std::vector<double> logits = {1, 3, 3, 2, 3};
  const Routing r = select_experts<double>(RouterMode::TopkSoftmax, logits, 1, 5, 2);
  EXPECT_EQ(r.ids, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(r.weights, (std::vector<double>{0.5, 0.5}));  // softmax of two equal logits
  // All equal: experts 0..k-1.
  const std::vector<float> flat(8, 0.25f);
  EXPECT_EQ(select_experts<float>(RouterMode::TopkSoftmax, flat, 1, 8, 3).ids, (std::vector<std::int32_t>{0, 1, 2}));
}

TEST(SelectExperts, OrderIsDescendingAndPerToken) {
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f, 1.0f,   // token 0: 2, 3, 0, 1
                                     -3.0f, -2.0f, -1.0f, -4.0f};  // token 1: 2, 1, 0, 3
  const Routing r = select_experts<float>(RouterMode::TopkSoftmax, logits, 2, 4, 3);
  EXPECT_EQ(r.ids, (std::vector<std::int32_t>{2, 3, 0, 2, 1, 0}));
}

TEST(SelectExperts, NanRanksBelowEverythingIncludingMinusInfinity) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> logits = {nan, -inf, 0.0, nan};
  const Routing r = select_experts<double>(RouterMode::TopkSoftmax, logits, 1, 4, 3);
  EXPECT_EQ(r.ids, (std::vector<std::int32_t>{2, 1, 0}));
  EXPECT_TRUE(std::isnan(r.weights[2]));  // a selected NaN logit poisons the softmax
}

TEST(SelectExperts, WeightModesOnHandValues) {
  // logits ln 1, ln 2, ln 3, ln 4: softmax over all four = 0.1, 0.2, 0.3, 0.4; top-2 = experts 3, 2.
  const std::vector<double> logits = {std::log(1.0), std::log(2.0), std::log(3.0), std::log(4.0)};
  const Routing gptoss = select_experts<double>(RouterMode::TopkSoftmax, logits, 1, 4, 2);
  const Routing renorm = select_experts<double>(RouterMode::SoftmaxTopkRenorm, logits, 1, 4, 2);
  const Routing plain = select_experts<double>(RouterMode::SoftmaxTopk, logits, 1, 4, 2);
  for (const Routing* r : {&gptoss, &renorm, &plain}) EXPECT_EQ(r->ids, (std::vector<std::int32_t>{3, 2}));
  // Softmax over the two kept logits: 4/7, 3/7 (equal to renormalising the full softmax).
  EXPECT_NEAR(gptoss.weights[0], 4.0 / 7.0, 1e-15);
  EXPECT_NEAR(gptoss.weights[1], 3.0 / 7.0, 1e-15);
  EXPECT_NEAR(renorm.weights[0], 4.0 / 7.0, 1e-15);
  EXPECT_NEAR(renorm.weights[1], 3.0 / 7.0, 1e-15);
  EXPECT_NEAR(plain.weights[0], 0.4, 1e-15);
  EXPECT_NEAR(plain.weights[1], 0.3, 1e-15);
}

TEST(Route, ZeroRouterWeightsTieEveryExpertAndTheBiasDecides) {
  MoeConfig c;
  c.hidden = 32;
  c.intermediate = 32;
  c.experts = 5;
  c.topk = 2;
  RawLayer layer = blank_layer(c);
  const Tensor x = f32_tensor(random_hidden(3, 32, 1), {3, 32});
  Routing r = route(c, layer.tensors(), x, Precision::F32);
  EXPECT_EQ(r.ids, (std::vector<std::int32_t>{0, 1, 0, 1, 0, 1}));
  layer.router_bias = {0, 0.5, 0, 0.5, 0.25};  // experts 1 and 3 tie on top
  r = route(c, layer.tensors(), x, Precision::F64);
  EXPECT_EQ(r.ids, (std::vector<std::int32_t>{1, 3, 1, 3, 1, 3}));
}

TEST(RoutingFromTensors, ReadsAndValidates) {
  Tensor ids(DType::I32, {2, 2});
  auto v = ids.as_mut<std::int32_t>();
  v[0] = 3, v[1] = 0, v[2] = 1, v[3] = 2;
  const Tensor w = f32_tensor({0.75, 0.25, 0.5, 0.5}, {2, 2});
  const Routing r = routing_from_tensors(ids, w, 2, 2, 4, "topk.st");
  EXPECT_EQ(r.ids, (std::vector<std::int32_t>{3, 0, 1, 2}));
  EXPECT_EQ(r.weights, (std::vector<double>{0.75, 0.25, 0.5, 0.5}));

  auto message = [&](const Tensor& i, const Tensor& ww, std::int64_t tokens) {
    try {
      routing_from_tensors(i, ww, tokens, 2, 4, "topk.st");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Tensor bad = ids;
  bad.as_mut<std::int32_t>()[3] = 4;
  EXPECT_NE(message(bad, w, 2).find("element [1, 1] is expert 4, outside [0, 4)"), std::string::npos);
  bad.as_mut<std::int32_t>()[3] = -1;
  EXPECT_NE(message(bad, w, 2).find("expert -1"), std::string::npos);
  EXPECT_NE(message(ids, w, 3).find("dimension 0 is 2, expected tokens = 3"), std::string::npos);
  EXPECT_NE(message(ids, f32_tensor({1, 1, 1}, {1, 3}), 2).find("topk_weights"), std::string::npos);
  EXPECT_NE(message(Tensor(DType::F32, {2, 2}), w, 2).find("dtype F32 is not supported"), std::string::npos);
  // Without an expected k or expert count: k from the ids, any non-negative id.
  bad.as_mut<std::int32_t>()[3] = 1000;
  const Routing open = routing_from_tensors(bad, w, 2, 0, 0, "topk.st");
  EXPECT_EQ(open.topk, 2);
  EXPECT_EQ(open.ids[3], 1000);
}

TEST(RoutingTensors, RoundTripThroughTensors) {
  const Routing r{2, 3, {8, 0, 4, 1, 2, 3}, {0.5, 0.25, 0.25, 0.125, 0.375, 0.5}};
  const NamedTensors t = routing_tensors(r);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].first, "topk_ids");
  EXPECT_EQ(t[0].second.dtype(), DType::I32);
  EXPECT_EQ(t[1].second.dtype(), DType::F32);
  const Routing back = routing_from_tensors(t[0].second, t[1].second, 2, 3, 9, "round trip");
  EXPECT_EQ(back.ids, r.ids);
  EXPECT_EQ(back.weights, r.weights);
}

}  // namespace
}  // namespace mxg::ref::testing
