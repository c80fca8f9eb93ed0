// Host emulation of the fused-MoE kernel (see host_moe.hpp). Tokens are gathered per expert so
// each weight row is decoded once per expert and applied to every token routed there.
#include "kernels/backend/host_moe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/backend/device_matrix.hpp"
#include "kernels/format/mxfp4.hpp"
#include "kernels/backend/parallel_for.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::host {
namespace {

constexpr std::int64_t kLanes = 16;         // dot products run over whole groups of 16 floats
constexpr std::int64_t kChunkTokens = 256;  // bounds the per-(token, slot) buffers for long prefills
constexpr std::int64_t kUnitsPerTask = 32;  // w13 work item: 32 units (64 rows) of one expert
constexpr std::int64_t kRowsPerTask = 64;   // w2 work item: 64 output rows of one expert

// Fixed-order dot product over n (a multiple of kLanes) floats: kLanes running sums, then a
// fixed pairwise reduction, so the result depends only on the inputs.
float dot(const float* a, const float* b, std::int64_t n) {
  float acc[kLanes] = {};
  for (std::int64_t i = 0; i < n; i += kLanes) {
    for (std::int64_t j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (std::int64_t width = kLanes / 2; width >= 1; width /= 2) {
    for (std::int64_t j = 0; j < width; ++j) acc[j] += acc[j + width];
  }
  return acc[0];
}

// LAYOUTS.md §3 step 2, on the accumulators (bias already added).
float swiglu(float gate, float up, float limit, float alpha) {
  gate = gate > limit ? limit : gate;  // NaN stays NaN
  up = up > limit ? limit : (up < -limit ? -limit : up);
  const float glu = gate * (1.0f / (1.0f + std::exp(-alpha * gate)));
  return (up + 1.0f) * glu;
}

// Logical w13 row of gate (half 0) or up (half 1) unit u, in the kernel's row order (§8). The
// gugu-rows mutant reads interleave mode as single alternating rows instead of 16-row blocks.
std::int64_t w13_row(GateMode mode, int half, std::int64_t unit, std::int64_t ip, KernelMutant mutant) {
  if (mode == GateMode::Interleave && mutant == KernelMutant::GuguRows) return 2 * unit + half;
  const std::int64_t separated = half * ip + unit;
  return mode == GateMode::Separated ? separated : layout::block_interleave_row(separated, 2 * ip);
}

struct Shapes {
  std::int64_t tokens, topk, experts;
  std::int64_t hidden, hidden_padded, k13;  // k13: hidden rounded up to kLanes
  std::int64_t ip, units, k2;               // units = I_p - intermediate_pad; k2: units rounded up
  KernelMutant mutant = KernelMutant::None;
};

// One chunk of tokens [t0, t0 + n): gather (token, slot) pairs per expert, run w13 + SwiGLU,
// then w2, then the weighted sum over slots in slot order.
class ChunkRunner {
 public:
  ChunkRunner(const FusedMoeProblem& p, const Shapes& s, int threads) : p_(p), s_(s), threads_(threads) {
    w13_ = {p.w13.as<std::uint8_t>().data(), p.w13_scale.as<std::uint8_t>().data(), 2 * s.ip, s.hidden_padded / 2,
            p.w13_scale.dim(1), p.is_shuffled};
    w2_ = {p.w2.as<std::uint8_t>().data(), p.w2_scale.as<std::uint8_t>().data(), s.hidden_padded, s.ip / 2,
           p.w2_scale.dim(1), p.is_shuffled};
  }

  void run(std::int64_t t0, std::int64_t n, std::uint16_t* y) {
    gather(t0, n);
    load_inputs(t0, n);
    act_.assign(static_cast<std::size_t>(n * s_.topk * s_.k2), 0.0f);
    out_.assign(static_cast<std::size_t>(n * s_.topk * s_.hidden), 0.0f);

    const std::int64_t unit_tasks = layout::ceil_div(s_.units, kUnitsPerTask);
    parallel_for(static_cast<std::int64_t>(active_.size()) * unit_tasks, threads_, [&](std::int64_t i) {
      gate_up(active_[static_cast<std::size_t>(i / unit_tasks)], (i % unit_tasks) * kUnitsPerTask);
    });
    const std::int64_t row_tasks = layout::ceil_div(s_.hidden, kRowsPerTask);
    parallel_for(static_cast<std::int64_t>(active_.size()) * row_tasks, threads_, [&](std::int64_t i) {
      down(active_[static_cast<std::size_t>(i / row_tasks)], (i % row_tasks) * kRowsPerTask);
    });
    combine(t0, n, y);
  }

 private:
  // routes_[e]: pair indices (local token * k + slot) routed to expert e, in token order.
  void gather(std::int64_t t0, std::int64_t n) {
    routes_.assign(static_cast<std::size_t>(s_.experts), {});
    const auto ids = p_.topk_ids.as<std::int32_t>();
    for (std::int64_t pair = 0; pair < n * s_.topk; ++pair) {
      routes_[static_cast<std::size_t>(ids[static_cast<std::size_t>(t0 * s_.topk + pair)])].push_back(pair);
    }
    active_.clear();
    for (std::int64_t e = 0; e < s_.experts; ++e) {
      if (!routes_[static_cast<std::size_t>(e)].empty()) active_.push_back(e);
    }
  }

  // Hidden rows as fp32, inputs [H, k13) zero: the last hidden_pad inputs are absent (k-pad-tail-nan:
  // never initialised, modelled as NaN, and k13 then spans the padding).
  void load_inputs(std::int64_t t0, std::int64_t n) {
    const float tail = s_.mutant == KernelMutant::KPadTailNan ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    x_.assign(static_cast<std::size_t>(n * s_.k13), tail);
    const auto hidden = p_.hidden.as<std::uint16_t>();
    for (std::int64_t t = 0; t < n; ++t) {
      for (std::int64_t h = 0; h < s_.hidden; ++h) {
        x_[static_cast<std::size_t>(t * s_.k13 + h)] =
            bf16_to_f32(hidden[static_cast<std::size_t>((t0 + t) * s_.hidden_padded + h)]);
      }
    }
  }

  void gate_up(std::int64_t e, std::int64_t u0) {
    std::vector<float> gate_row(static_cast<std::size_t>(s_.k13)), up_row(static_cast<std::size_t>(s_.k13));
    const float* bias = p_.w13_bias.as<float>().data() + e * 2 * s_.ip;
    const auto& pairs = routes_[static_cast<std::size_t>(e)];
    for (std::int64_t u = u0; u < std::min(u0 + kUnitsPerTask, s_.units); ++u) {
      decode_row(w13_, e, w13_row(p_.gate_mode, 0, u, s_.ip, s_.mutant), s_.hidden, s_.k13, gate_row.data());
      decode_row(w13_, e, w13_row(p_.gate_mode, 1, u, s_.ip, s_.mutant), s_.hidden, s_.k13, up_row.data());
      for (const std::int64_t pair : pairs) {
        const float* x = x_.data() + (pair / s_.topk) * s_.k13;
        const float gate = dot(gate_row.data(), x, s_.k13) + bias[u];
        const float up = dot(up_row.data(), x, s_.k13) + bias[s_.ip + u];
        act_[static_cast<std::size_t>(pair * s_.k2 + u)] = swiglu(gate, up, p_.swiglu_limit, p_.alpha);
      }
    }
  }

  // Output rows [o0, o0 + kRowsPerTask) of expert e; only rows < H exist, only units < I_p -
  // intermediate_pad are read (the activations beyond are zero and the weights are skipped).
  void down(std::int64_t e, std::int64_t o0) {
    std::vector<float> row(static_cast<std::size_t>(s_.k2));
    const float* bias = p_.w2_bias.as<float>().data() + e * s_.hidden_padded;
    const auto& pairs = routes_[static_cast<std::size_t>(e)];
    const float tail = overrun_tail(e);
    for (std::int64_t o = o0; o < std::min(o0 + kRowsPerTask, s_.hidden); ++o) {
      decode_row(w2_, e, o, s_.units, s_.k2, row.data());
      for (const std::int64_t pair : pairs) {
        out_[static_cast<std::size_t>(pair * s_.hidden + o)] =
            dot(row.data(), act_.data() + pair * s_.k2, s_.k2) + bias[o] + tail;
      }
    }
  }

  // scale-tail-overrun: the last expert's stage 2 loads the E8M0 byte one past w2_scale's end and
  // multiplies it by a masked-out (zero) weight. Only the host backend's guard zones make that byte
  // readable (0xFF: NaN, so 0 * NaN poisons the output); elsewhere the mutant is never selected.
  float overrun_tail(std::int64_t e) const {
    if (s_.mutant != KernelMutant::ScaleTailOverrun || e != s_.experts - 1) return 0.0f;
    const auto scales = p_.w2_scale.as<std::uint8_t>();
    return 0.0f * mxfp4::e8m0_decode(scales.data()[scales.size()]);
  }

  // y[t] = sum over slots, in slot order, of weight * expert output.
  void combine(std::int64_t t0, std::int64_t n, std::uint16_t* y) {
    const auto weights = p_.topk_weights.as<float>();
    parallel_for(n, threads_, [&](std::int64_t t) {
      for (std::int64_t o = 0; o < s_.hidden; ++o) {
        float sum = 0.0f;
        for (std::int64_t slot = 0; slot < s_.topk; ++slot) {
          const std::int64_t pair = t * s_.topk + slot;
          sum += weights[static_cast<std::size_t>(t0 * s_.topk + pair)] *
                 out_[static_cast<std::size_t>(pair * s_.hidden + o)];
        }
        y[(t0 + t) * s_.hidden + o] = f32_to_bf16(sum);
      }
    });
  }

  const FusedMoeProblem& p_;
  const Shapes& s_;
  const int threads_;
  DeviceMatrix w13_, w2_;
  std::vector<std::vector<std::int64_t>> routes_;
  std::vector<std::int64_t> active_;
  std::vector<float> x_, act_, out_;
};

}  // namespace

Tensor run_fused_moe(const FusedMoeProblem& p, int threads, KernelMutant mutant) {
  Shapes s{};
  s.mutant = mutant;
  s.tokens = p.tokens();
  s.topk = p.topk();
  s.experts = p.experts();
  s.hidden = p.hidden_size();
  s.hidden_padded = p.hidden_padded();
  s.k13 = layout::round_up(mutant == KernelMutant::KPadTailNan ? s.hidden_padded : s.hidden, kLanes);
  s.ip = p.intermediate_padded();
  s.units = p.intermediate_size();
  if (mutant == KernelMutant::InterDimTail256) s.units = s.units / 256 * 256;
  s.k2 = layout::round_up(s.units, kLanes);

  Tensor y(DType::BF16, {s.tokens, s.hidden});
  if (mutant == KernelMutant::ZeroOutputInterleave && p.gate_mode == GateMode::Interleave) return y;  // zeros
  auto out = y.as_mut<std::uint16_t>();
  ChunkRunner runner(p, s, threads);
  for (std::int64_t t0 = 0; t0 < s.tokens; t0 += kChunkTokens) {
    runner.run(t0, std::min(kChunkTokens, s.tokens - t0), out.data());
  }
  return y;
}

}  // namespace mxg::host
