// Random canonical-layout MoE layers for benchmarks (see synthetic_layer.hpp).
#include "reference/bench/synthetic_layer.hpp"

#include <cstring>

#include "kernels/common/splitmix64.hpp"
#include "reference/checkpoint.hpp"

namespace mxg::ref::bench {

namespace {
// splitmix64: one multiply-xorshift step per 8 bytes, so filling 1.6 GB of weights takes about a
// second; quality is irrelevant here (these are benchmark inputs, not test expectations).
using Stream = SplitMix64;

Tensor random_bytes(Shape shape, Stream& s) {
  Tensor t(DType::U8, std::move(shape));
  auto bytes = t.mutable_bytes();
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    const std::uint64_t v = s.next();
    std::memcpy(bytes.data() + i, &v, 8);
  }
  for (; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(s.next());
  return t;
}

// E8M0 bytes 119..126 (scales 2^-8 .. 2^-1): with E2M1 values up to 6 the dot products stay well
// inside float range, as in a trained checkpoint.
Tensor random_scales(Shape shape, Stream& s) {
  Tensor t = random_bytes(std::move(shape), s);
  for (auto& b : t.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(119 + (b & 7));
  return t;
}

// BF16 values in [-range, range): the top 16 bits of a float built from the stream.
Tensor random_bf16(Shape shape, float range, Stream& s) {
  Tensor t(DType::BF16, std::move(shape));
  auto out = t.as_mut<std::uint16_t>();
  for (auto& v : out) {
    const float x = (static_cast<float>(s.next() >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f) * range;
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    v = static_cast<std::uint16_t>(bits >> 16);
  }
  return t;
}
}  // namespace

MoeConfig gptoss120b_config() {
  MoeConfig c;
  c.hidden = 2880;
  c.intermediate = 2880;
  c.experts = 128;
  c.topk = 4;
  return c;
}

MoeWeights synthetic_weights(const MoeConfig& c, std::uint64_t seed) {
  Stream s{seed};
  MoeWeights w;
  w.w13_blocks = random_bytes({c.experts, 2 * c.intermediate, c.hidden / 32, 16}, s);
  w.w13_scales = random_scales({c.experts, 2 * c.intermediate, c.hidden / 32}, s);
  w.w13_bias = random_bf16({c.experts, 2 * c.intermediate}, 0.5f, s);
  w.w2_blocks = random_bytes({c.experts, c.hidden, c.intermediate / 32, 16}, s);
  w.w2_scales = random_scales({c.experts, c.hidden, c.intermediate / 32}, s);
  w.w2_bias = random_bf16({c.experts, c.hidden}, 0.5f, s);
  w.router_weight = random_bf16({c.experts, c.hidden}, 0.05f, s);
  w.router_bias = random_bf16({c.experts}, 0.5f, s);
  return w;
}

Tensor synthetic_hidden(std::int64_t tokens, std::int64_t hidden, std::uint64_t seed) {
  Stream s{seed};
  return random_bf16({tokens, hidden}, 2.0f, s);
}

NamedTensors checkpoint_tensors(const MoeWeights& w, std::int64_t layer) {
  return {
      {expert_tensor_name(layer, "gate_up_proj_blocks"), w.w13_blocks},
      {expert_tensor_name(layer, "gate_up_proj_scales"), w.w13_scales},
      {expert_tensor_name(layer, "gate_up_proj_bias"), w.w13_bias},
      {expert_tensor_name(layer, "down_proj_blocks"), w.w2_blocks},
      {expert_tensor_name(layer, "down_proj_scales"), w.w2_scales},
      {expert_tensor_name(layer, "down_proj_bias"), w.w2_bias},
      {router_tensor_name(layer, "weight"), w.router_weight},
      {router_tensor_name(layer, "bias"), w.router_bias},
  };
}

}  // namespace mxg::ref::bench
