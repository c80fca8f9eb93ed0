// Poison back to zeros (see serving_padding.hpp).
#include "harness/diagnose/output/serving_padding.hpp"

#include <algorithm>
#include <cmath>

namespace mxg::diagnose {

namespace {
constexpr std::uint8_t kNanScale = 0xFF;

void zero_nan_scales(Tensor& scales) {
  if (std::ranges::find(scales.as<std::uint8_t>(), kNanScale) == scales.as<std::uint8_t>().end()) return;
  std::ranges::replace(scales.as_mut<std::uint8_t>(), kNanScale, std::uint8_t{0});
}

void zero_nan_floats(Tensor& t) {
  if (std::ranges::none_of(t.as<float>(), [](float v) { return std::isnan(v); })) return;
  for (float& v : t.as_mut<float>()) v = std::isnan(v) ? 0.0f : v;
}

void zero_nan_bf16(Tensor& t) {
  auto is_nan = [](std::uint16_t bits) { return std::isnan(bf16_to_f32(bits)); };
  if (std::ranges::none_of(t.as<std::uint16_t>(), is_nan)) return;
  for (std::uint16_t& v : t.as_mut<std::uint16_t>()) v = is_nan(v) ? std::uint16_t{0} : v;
}
}  // namespace

void zero_fill_padding(FusedMoeProblem& p) {
  // Tensors are copy-on-write: checking first leaves untouched buffers shared.
  zero_nan_scales(p.w13_scale);
  zero_nan_scales(p.w2_scale);
  zero_nan_floats(p.w13_bias);
  zero_nan_floats(p.w2_bias);
  zero_nan_bf16(p.hidden);
}

}  // namespace mxg::diagnose
