// Shape and semantics of one MoE layer for the reference: sizes, router and activation variants,
// compute precision (LAYOUTS.md §2–§3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mxg::ref {

// How router logits become (expert, weight) pairs. Experts are always *selected* on the logits
// (softmax is monotone, so the same experts win), highest first; equal logits go to the lower
// expert index. The modes differ only in the weights.
enum class RouterMode : std::uint8_t {
  TopkSoftmax,         // GPT-OSS: softmax over the k selected logits only
  SoftmaxTopkRenorm,   // softmax over all E logits, keep the k selected, rescale them to sum to 1
  SoftmaxTopk,         // softmax over all E logits, keep the k selected as they are
};

enum class Activation : std::uint8_t {
  // GPT-OSS: gate = min(gate, limit); up = clamp(up, -limit, limit);
  // a = (up + 1) * gate * sigmoid(alpha * gate). Gate/up are the even/odd rows of w13.
  SwigluOai,
  // Plain SiLU-gated unit: a = silu(gate) * up = gate * sigmoid(gate) * up (no clamp, no +1).
  Silu,
};

enum class Precision : std::uint8_t { F32, F64 };

std::string_view router_mode_name(RouterMode m);  // "topk-softmax", "softmax-topk-renorm", "softmax-topk"
std::string_view activation_name(Activation a);   // "swiglu-oai", "silu"
std::string_view precision_name(Precision p);     // "f32", "f64"
// Inverses; throw InputError naming `field` and the value.
RouterMode parse_router_mode(std::string_view s, std::string_view field);
Activation parse_activation(std::string_view s, std::string_view field);
Precision parse_precision(std::string_view s, std::string_view field);

inline constexpr double kGptOssSwigluLimit = 7.0;
inline constexpr double kGptOssAlpha = 1.702;

struct MoeConfig {
  std::int64_t hidden = 0;        // H, a multiple of 32
  std::int64_t intermediate = 0;  // I (units per expert), a multiple of 32
  std::int64_t experts = 0;       // E
  std::int64_t topk = 0;          // k, 1..E
  double swiglu_limit = kGptOssSwigluLimit;
  double alpha = kGptOssAlpha;
  RouterMode router = RouterMode::TopkSoftmax;
  Activation activation = Activation::SwigluOai;
};

// InputError naming `source` (a file or "flags") and the field when a size is out of range.
void validate_config(const MoeConfig& c, std::string_view source);
// "H=2880 I=2880 E=128 k=4 limit=7 alpha=1.702 router=topk-softmax activation=swiglu-oai"
std::string describe(const MoeConfig& c);

}  // namespace mxg::ref
