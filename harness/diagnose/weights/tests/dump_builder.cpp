// Dumps built through the kernels/layout transforms (the serving-process route).
#include "harness/diagnose/weights/tests/dump_builder.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "kernels/layout/row_interleave.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::diagnose::weights::testing {

namespace lm = mxg::layout;
using lm::ExpertTensor;

Tensor random_checkpoint(ExpertTensor kind, std::int64_t experts, std::int64_t intermediate, std::int64_t hidden,
                         std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::int64_t rows = is_gate_up(kind) ? 2 * intermediate : hidden;
  const std::int64_t k = is_gate_up(kind) ? hidden : intermediate;
  Tensor t;
  if (is_blocks(kind)) {
    t = Tensor(DType::U8, {experts, rows, k / 32, 16});
  } else if (is_scales(kind)) {
    t = Tensor(DType::U8, {experts, rows, k / 32});
  } else {
    // Random finite bf16 values (no NaN: NaN == NaN is how the search treats them, but a test
    // should not depend on that), sign included.
    t = Tensor(DType::BF16, {experts, rows});
    for (auto& v : t.as_mut<std::uint16_t>()) {
      const float x = static_cast<float>(static_cast<std::int64_t>(rng() % 20001) - 10000) / 997.0f;
      v = f32_to_bf16(x);
    }
    return t;
  }
  for (auto& b : t.as_mut<std::uint8_t>()) b = static_cast<std::uint8_t>(rng());
  return t;
}

std::string DumpSpec::describe() const {
  return fmt::format("{} tp={} deinterleave={} shuffle={} experts=[{}] form={}", lm::expert_tensor_name(kind),
                     tp ? fmt::format("{}/rank {}", tp->tp, tp->rank) : "none", deinterleave, shuffle_name(shuffle),
                     fmt::join(experts, ","), static_cast<int>(form));
}

namespace {

Tensor select_experts(const Tensor& t, const std::vector<std::int64_t>& experts) {
  if (experts.empty()) return t;
  Shape shape = t.shape();
  shape[0] = static_cast<std::int64_t>(experts.size());
  Tensor out(t.dtype(), shape);
  const std::size_t per = t.nbytes() / static_cast<std::size_t>(t.dim(0));
  auto dst = out.mutable_bytes();
  for (std::size_t d = 0; d < experts.size(); ++d) {
    std::memcpy(dst.data() + d * per, t.bytes().data() + static_cast<std::size_t>(experts[d]) * per, per);
  }
  return out;
}

// [E, rows, K/32, 16] blocks as [E, rows, K/2], the form the transforms after tp-slice return.
Tensor three_d(const Tensor& t) {
  if (t.rank() == 4) return t.reshaped({t.dim(0), t.dim(1), t.dim(2) * t.dim(3)});
  return t;
}

lm::ShuffleOptions options(const DumpSpec& s) {
  return {s.shuffle == Shuffle::interleaved ? lm::TileMode::interleaved : lm::TileMode::separated, is_gate_up(s.kind)};
}

}  // namespace

Tensor logical_dump(const DumpSpec& s, const Tensor& checkpoint) {
  Tensor t = select_experts(checkpoint, s.experts);
  if (s.tp) {
    const lm::TpPlan plan = lm::tp_plan_for_tensor(s.kind, t.shape(), s.tp->tp, s.tp->rank, {}, "test dump");
    t = lm::tp_slice(t, s.kind, plan, "test dump");
  }
  t = three_d(t);
  if (s.deinterleave) t = lm::deinterleave_rows(t, std::nullopt, "test dump");
  return t;
}

Tensor finish_dump(const DumpSpec& s, const Tensor& logical) {
  Tensor t = logical;
  const std::int64_t experts = t.dim(0);
  if (s.shuffle != Shuffle::none) {
    t = is_blocks(s.kind) ? lm::shuffle_weight(t, options(s), std::nullopt, "test dump")
                          : lm::shuffle_scale(t, options(s), experts, "test dump");
  }
  switch (s.form) {
    case Form::natural: return t;
    case Form::four_d: return t.reshaped({t.dim(0), t.dim(1), t.dim(2) / 16, 16});
    case Form::stacked_2d: return t.rank() == 3 ? t.reshaped({t.dim(0) * t.dim(1), t.dim(2)}) : t;
    case Form::int8: {
      Tensor out(DType::I8, t.shape());
      std::memcpy(out.mutable_bytes().data(), t.bytes().data(), t.nbytes());
      return out;
    }
    case Form::f32: {
      const std::vector<float> v = t.to_f32();
      return Tensor::from_f32(v, t.shape(), DType::F32);
    }
  }
  return t;
}

Tensor build_dump(const DumpSpec& s, const Tensor& checkpoint) { return finish_dump(s, logical_dump(s, checkpoint)); }

std::vector<std::int64_t> random_experts(std::mt19937_64& rng, std::int64_t total, std::int64_t n, bool contiguous) {
  std::vector<std::int64_t> out;
  if (contiguous) {
    const std::int64_t start = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(total - n + 1));
    for (std::int64_t i = 0; i < n; ++i) out.push_back(start + i);
    return out;
  }
  std::vector<std::int64_t> all(static_cast<std::size_t>(total));
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  out.assign(all.begin(), all.begin() + n);
  return out;
}

}  // namespace mxg::diagnose::weights::testing
