// Names, parsing and validation of the MoE layer configuration.
#include "reference/moe_config.hpp"

#include <cmath>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::ref {

std::string_view router_mode_name(RouterMode m) {
  switch (m) {
    case RouterMode::TopkSoftmax: return "topk-softmax";
    case RouterMode::SoftmaxTopkRenorm: return "softmax-topk-renorm";
    case RouterMode::SoftmaxTopk: return "softmax-topk";
  }
  return "?";
}

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::SwigluOai: return "swiglu-oai";
    case Activation::Silu: return "silu";
  }
  return "?";
}

std::string_view precision_name(Precision p) { return p == Precision::F64 ? "f64" : "f32"; }

RouterMode parse_router_mode(std::string_view s, std::string_view field) {
  for (auto m : {RouterMode::TopkSoftmax, RouterMode::SoftmaxTopkRenorm, RouterMode::SoftmaxTopk}) {
    if (s == router_mode_name(m)) return m;
  }
  throw InputError(fmt::format("{}: router mode '{}' is not one of topk-softmax, softmax-topk-renorm, softmax-topk",
                               field, s));
}

Activation parse_activation(std::string_view s, std::string_view field) {
  for (auto a : {Activation::SwigluOai, Activation::Silu}) {
    if (s == activation_name(a)) return a;
  }
  throw InputError(fmt::format("{}: activation '{}' is not one of swiglu-oai, silu", field, s));
}

Precision parse_precision(std::string_view s, std::string_view field) {
  if (s == "f32") return Precision::F32;
  if (s == "f64") return Precision::F64;
  throw InputError(fmt::format("{}: precision '{}' is not one of f32, f64", field, s));
}

void validate_config(const MoeConfig& c, std::string_view source) {
  auto fail = [&](std::string_view field, auto value, std::string_view need) {
    throw InputError(fmt::format("{}: {} = {}: {}", source, field, value, need));
  };
  if (c.hidden <= 0 || c.hidden % 32 != 0) fail("hidden_size", c.hidden, "need a positive multiple of 32");
  if (c.intermediate <= 0 || c.intermediate % 32 != 0) {
    fail("intermediate_size", c.intermediate, "need a positive multiple of 32");
  }
  if (c.experts <= 0) fail("num_local_experts", c.experts, "need at least 1");
  if (c.topk <= 0 || c.topk > c.experts) {
    fail("num_experts_per_tok", c.topk, fmt::format("need 1..num_local_experts ({})", c.experts));
  }
  // The limit only matters for swiglu-oai; a non-positive or NaN one would clamp everything away.
  if (c.activation == Activation::SwigluOai && !(c.swiglu_limit > 0)) {
    fail("swiglu_limit", c.swiglu_limit, "need a positive number");
  }
  if (!std::isfinite(c.alpha)) fail("alpha", c.alpha, "need a finite number");
}

std::string describe(const MoeConfig& c) {
  return fmt::format("H={} I={} E={} k={} limit={} alpha={} router={} activation={}", c.hidden, c.intermediate,
                     c.experts, c.topk, c.swiglu_limit, c.alpha, router_mode_name(c.router),
                     activation_name(c.activation));
}

}  // namespace mxg::ref
