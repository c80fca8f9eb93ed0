// Generation of a case instance's canonical inputs: routing first, then the routed experts'
// weights as random E2M1 codes with scale bytes sized for O(1) activations, biases, hidden
// states, and finally the input distribution's pass. Compiled with -ffp-contract=off (see
// seeded_random.cpp) so the float values are the same bits on every CPU.
#include "harness/matrix/canonical_inputs.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "harness/matrix/input_distributions.hpp"
#include "harness/matrix/seeded_random.hpp"
#include "harness/matrix/synthetic_routing.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/format/mxfp4.hpp"

namespace mxg::matrix {
namespace {

// Biases are N(0, kBiasStd²): large enough that a bias left in the wrong row order moves the
// output well past any tolerance, as in real checkpoints where biases are O(0.1-1).
constexpr double kBiasStd = 0.5;

void require_shape(const ShapeSpec& s, std::int64_t tokens) {
  auto fail = [&](std::string_view what) {
    throw InputError(fmt::format("generate_inputs: shape {}: {}", s.name, what));
  };
  if (s.hidden < mxfp4::kBlock || s.hidden % mxfp4::kBlock != 0) fail(fmt::format("hidden = {} is not a positive multiple of 32", s.hidden));
  if (s.intermediate < mxfp4::kBlock || s.intermediate % mxfp4::kBlock != 0) fail(fmt::format("intermediate = {} is not a positive multiple of 32", s.intermediate));
  if (s.topk < 1 || s.topk > s.experts) fail(fmt::format("topk = {} is outside [1, experts = {}]", s.topk, s.experts));
  if (s.tp < 1 || s.rank < 0 || s.rank >= s.tp) fail(fmt::format("rank = {} is outside [0, tp = {})", s.rank, s.tp));
  if (tokens < 1) fail(fmt::format("tokens = {} is below 1", tokens));
}

// Random codes and jittered scale bytes of one expert's [rows, k] matrix.
void fill_weights(std::span<std::uint8_t> blocks, std::span<std::uint8_t> scales, std::int64_t k, std::uint64_t seed,
                  std::string_view tag, std::int64_t expert) {
  SeededStream codes(seed, fmt::format("{}.blocks", tag), static_cast<std::uint64_t>(expert));
  codes.fill(blocks);
  SeededStream jitter(seed, fmt::format("{}.scales", tag), static_cast<std::uint64_t>(expert));
  const int base = 127 + base_scale_exponent(k);
  // Two bits per byte: 0 -> -1, 1 and 2 -> 0, 3 -> +1.
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < scales.size(); ++i, bits >>= 2) {
    if (i % 32 == 0) bits = jitter.bits();
    const int two = static_cast<int>(bits & 3);
    scales[i] = static_cast<std::uint8_t>(base + (two == 0 ? -kScaleJitter : two == 3 ? kScaleJitter : 0));
  }
}

void fill_bias(std::span<float> out, std::uint64_t seed, std::string_view tag, std::int64_t expert) {
  SeededStream rng(seed, fmt::format("{}.bias", tag), static_cast<std::uint64_t>(expert));
  for (float& b : out) b = round_to_bf16(kBiasStd * rng.normal());
}

template <class T>
std::span<T> expert_slice(std::span<T> all, std::int64_t experts, std::int64_t m) {
  const auto per = all.size() / static_cast<std::size_t>(experts);
  return all.subspan(static_cast<std::size_t>(m) * per, per);
}

}  // namespace

CanonicalInputs generate_inputs(const ShapeSpec& shape, std::int64_t tokens, Routing routing, InputDist inputs,
                                std::uint64_t seed) {
  require_shape(shape, tokens);
  const std::int64_t H = shape.hidden, I = shape.intermediate, k = shape.topk;

  const TokenRouting routed = route_tokens(shape.experts, k, tokens, routing, seed);
  const CompactRouting compact = compact_routing(routed);

  CanonicalInputs in;
  in.expert_ids = compact.expert_ids;
  const auto E = static_cast<std::int64_t>(in.expert_ids.size());
  in.gate_up_blocks = Tensor(DType::U8, {E, 2 * I, H / 32, 16});
  in.gate_up_scales = Tensor(DType::U8, {E, 2 * I, H / 32});
  in.gate_up_bias = Tensor(DType::F32, {E, 2 * I});
  in.down_blocks = Tensor(DType::U8, {E, H, I / 32, 16});
  in.down_scales = Tensor(DType::U8, {E, H, I / 32});
  in.down_bias = Tensor(DType::F32, {E, H});

  auto gu_blocks = in.gate_up_blocks.as_mut<std::uint8_t>();
  auto gu_scales = in.gate_up_scales.as_mut<std::uint8_t>();
  auto gu_bias = in.gate_up_bias.as_mut<float>();
  auto dn_blocks = in.down_blocks.as_mut<std::uint8_t>();
  auto dn_scales = in.down_scales.as_mut<std::uint8_t>();
  auto dn_bias = in.down_bias.as_mut<float>();
  for (std::int64_t m = 0; m < E; ++m) {
    // Streams are keyed by the model expert number: an expert's weights do not depend on
    // which other experts the routing happened to materialise.
    const std::int64_t e = in.expert_ids[static_cast<std::size_t>(m)];
    fill_weights(expert_slice(gu_blocks, E, m), expert_slice(gu_scales, E, m), H, seed, "gate_up", e);
    fill_bias(expert_slice(gu_bias, E, m), seed, "gate_up", e);
    fill_weights(expert_slice(dn_blocks, E, m), expert_slice(dn_scales, E, m), I, seed, "down", e);
    fill_bias(expert_slice(dn_bias, E, m), seed, "down", e);
  }

  in.hidden = Tensor(DType::F32, {tokens, H});
  SeededStream hidden_rng(seed, "hidden");
  for (float& x : in.hidden.as_mut<float>()) x = round_to_bf16(hidden_rng.normal());

  in.topk_ids = Tensor(DType::I32, {tokens, k});
  std::copy(compact.topk_ids.begin(), compact.topk_ids.end(), in.topk_ids.as_mut<std::int32_t>().begin());
  in.topk_weights = Tensor(DType::F32, {tokens, k});
  std::copy(routed.weights.begin(), routed.weights.end(), in.topk_weights.as_mut<float>().begin());

  switch (inputs) {
    case InputDist::Normal: break;
    case InputDist::Outliers: apply_outliers(in, shape, seed); break;
    case InputDist::ZeroBlocks: apply_zero_blocks(in, shape, seed); break;
    case InputDist::ExtremeScales: apply_extreme_scales(in, shape, seed); break;
    case InputDist::NanScale: apply_nan_scale(in, shape, seed); break;
  }
  return in;
}

}  // namespace mxg::matrix
