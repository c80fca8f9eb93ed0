// moe_reference: the GPT-OSS expert block in double from decoded weights, and its error bound.
//
// Why ggml differs from exact arithmetic, and by how much at most (ggml-cpu's MXFP4 path):
//  * Weights: exact. A block_mxfp4 value is code · 2^(s-127); ggml's doubled code table times
//    its halved scale is the same number in f32.
//  * Activations: every MXFP4 mul_mat_id first quantises its f32 input to q8_0, per block of 32
//    along K: d = amax/127, q = round(x/d) in [-127, 127], d stored as f16. So
//    |x - q·f16(d)| <= d/2 (a rounding step, widened by 2^-14 for the reciprocal ggml multiplies
//    by) + 127·|d - f16(d)| (<= 127·max(d·2^-11, 2^-25): f16 has an 11-bit significand and
//    subnormal spacing 2^-24). This is q8_0_error(amax); it is hit twice, by the hidden state
//    (gate/up) and by the swiglu output (down).
//  * A dot product Σ w·x' then errs by at most Σ_blocks q8_0_error(amax_b) · Σ_{k in b} |w_k|,
//    plus f32 accumulation: the block partial sums (exact integers scaled by one f32 product)
//    are added in at most K/32 + 8 steps (SIMD lanes and the bias add), each off by at most 2^-24
//    of the running magnitude; we allow twice that over Σ|w|(|x| + err).
//  * swiglu_oai, A(g)·B(u) with A(g) = min(g, L)·σ(α·min(g, L)) and B(u) = clamp(u, -L, L) + 1:
//    |dA/dg| <= 1.1 for every α > 0 (the derivative of z·σ(z) peaks at 1.0998), |dB/du| <= 1, so
//    |ΔA·B| <= 1.1·E_g·(|B| + E_u) + |A|·E_u, plus 8 ulps of |A·B| for expf and the products.
//  * down: its input is ggml's own swiglu output h' (within E_h of h), quantised again; the
//    dot-product rule applies with per-element error E_h + q8_0_error(amax_b(h) + max_b E_h).
//  * Routing weights and the sum over slots: Σ_s |w_s|·E_o plus 2(k + 2) ulps of Σ_s |w_s·o_s|.
// The bound is a worst case (all errors aligned), so it grows like K where the actual error grows
// like sqrt(K). Beside it the reference predicts the error's variance from the same sources taken
// as independent: a q8_0 rounding error uniform on ±d/2 (variance d²/12), the f16 rounding of d
// a relative error uniform on ±2^-11 shared by its block (variance 2^-22/3 of the block's partial
// dot product squared), carried through swiglu to first order (A'(g)·B and A) and through down
// and the routing weights as sums of squares. Its NMSE is what a correct run should measure.
#include "kernels/ggml/tests/moe_reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "kernels/format/mxfp4.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::ggml_family::testing {
namespace {

constexpr double kUlp = 0x1p-24;  // f32 unit roundoff

// Value k of one block_mxfp4 row reducing over K inputs.
double weight_value(const std::uint8_t* row, std::int64_t k) {
  const std::uint8_t* block = row + (k / kBlockElems) * kBlockBytes;
  const std::int64_t j = k % kBlockElems;
  const std::uint8_t byte = block[1 + (j % 16)];
  const std::uint8_t code = j < 16 ? (byte & 0xF) : (byte >> 4);
  return static_cast<double>(mxfp4::e2m1_decode(code)) * static_cast<double>(mxfp4::e8m0_decode(block[0]));
}

struct Value {
  double v = 0;
  double err = 0;  // bound on |ggml - v|
  double var = 0;  // modelled variance of ggml - v
};

// Row `row` of an [E, rows, K/32*17] weight times x (whose ggml counterpart is within x_err[k] of
// x before q8_0 quantisation), plus bias.
Value matvec_row(const Tensor& w, std::int64_t expert, std::int64_t row, std::span<const double> x,
                 std::span<const double> x_err, std::span<const double> x_var, double bias) {
  const std::int64_t K = static_cast<std::int64_t>(x.size());
  const std::int64_t rows = w.dim(1), row_bytes = w.dim(2);
  const std::uint8_t* bytes = w.as<std::uint8_t>().data() + (expert * rows + row) * row_bytes;
  double sum = 0, quant = 0, magnitude = std::fabs(bias), var = 0;
  for (std::int64_t b = 0; b < K / kBlockElems; ++b) {
    double amax = 0, max_err = 0;
    for (std::int64_t k = b * kBlockElems; k < (b + 1) * kBlockElems; ++k) {
      amax = std::max(amax, std::fabs(x[static_cast<std::size_t>(k)]));
      max_err = std::max(max_err, x_err[static_cast<std::size_t>(k)]);
    }
    const double q_err = q8_0_error(amax + max_err);
    const double step = amax / 127.0;
    double block_sum = 0;
    for (std::int64_t k = b * kBlockElems; k < (b + 1) * kBlockElems; ++k) {
      const double wk = weight_value(bytes, k), xk = x[static_cast<std::size_t>(k)];
      const double ek = x_err[static_cast<std::size_t>(k)] + q_err;
      block_sum += wk * xk;
      quant += std::fabs(wk) * ek;
      magnitude += std::fabs(wk) * (std::fabs(xk) + ek);
      var += wk * wk * (x_var[static_cast<std::size_t>(k)] + step * step / 12.0);
    }
    sum += block_sum;
    var += block_sum * block_sum * 0x1p-22 / 3.0;
  }
  const double rounding = 2.0 * static_cast<double>(K / kBlockElems + 8) * kUlp * magnitude;
  return {sum + bias, quant + rounding, var};
}

Value swiglu_oai(Value g, Value u, double alpha, double limit) {
  const double x = std::min(g.v, limit);
  const double a = x / (1.0 + std::exp(-alpha * x));
  const double b = std::clamp(u.v, -limit, limit) + 1.0;
  const double err = 1.1 * g.err * (std::fabs(b) + u.err) + std::fabs(a) * u.err +
                     8.0 * kUlp * (std::fabs(a) + 1.1 * g.err) * (std::fabs(b) + u.err);
  // First-order sensitivities; the clamps make them zero past the limit.
  const double sig = 1.0 / (1.0 + std::exp(-alpha * x));
  const double da = g.v < limit ? sig * (1.0 + alpha * x * (1.0 - sig)) : 0.0;
  const double db = std::fabs(u.v) < limit ? 1.0 : 0.0;
  return {a * b, err, da * da * b * b * g.var + a * a * db * db * u.var};
}

}  // namespace

double q8_0_error(double amax) {
  const double d = amax / 127.0;
  if (!(d <= 65504.0)) return std::numeric_limits<double>::infinity();  // f16(d) overflows
  return d / 2.0 * (1.0 + 0x1p-14) + 127.0 * std::max(d * 0x1p-11, 0x1p-25);
}

ReferenceResult reference_moe(const GgmlMoeProblem& p) {
  const GgmlExperts& x = p.experts;
  const bool merged = x.merged();
  const Tensor& w_gate = merged ? x.gate_up : x.gate;
  const Tensor& w_up = merged ? x.gate_up : x.up;
  const std::int64_t T = p.hidden.dim(0), H = p.hidden.dim(1), k = p.topk_ids.dim(1);
  const std::int64_t I = merged ? x.gate_up.dim(1) / 2 : x.gate.dim(1);
  const std::int64_t up_row0 = merged ? I : 0;  // where up's rows start in its tensor
  const auto bias_gate = merged ? x.gate_up_bias.as<float>() : x.gate_bias.as<float>();
  const auto bias_up = merged ? x.gate_up_bias.as<float>() : x.up_bias.as<float>();
  const std::int64_t gu_bias_rows = merged ? 2 * I : I;
  const auto bias_down = x.down_bias.as<float>();
  const auto hidden = p.hidden.as<float>();
  const auto ids = p.topk_ids.as<std::int32_t>();
  const auto route = p.topk_weights.as<float>();

  ReferenceResult r;
  r.y.assign(static_cast<std::size_t>(T * H), 0.0);
  r.bound.assign(static_cast<std::size_t>(T * H), 0.0);
  r.variance.assign(static_cast<std::size_t>(T * H), 0.0);
  std::vector<double> xin(static_cast<std::size_t>(H)), zero(static_cast<std::size_t>(H), 0.0);
  std::vector<double> h(static_cast<std::size_t>(I)), h_err(static_cast<std::size_t>(I)), h_var(static_cast<std::size_t>(I));
  std::vector<double> magnitude(static_cast<std::size_t>(H));
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t c = 0; c < H; ++c) xin[static_cast<std::size_t>(c)] = hidden[static_cast<std::size_t>(t * H + c)];
    std::fill(magnitude.begin(), magnitude.end(), 0.0);
    for (std::int64_t s = 0; s < k; ++s) {
      const std::int64_t e = ids[static_cast<std::size_t>(t * k + s)];
      const double w = route[static_cast<std::size_t>(t * k + s)];
      for (std::int64_t j = 0; j < I; ++j) {
        const Value g = matvec_row(w_gate, e, j, xin, zero, zero, bias_gate[static_cast<std::size_t>(e * gu_bias_rows + j)]);
        const Value u = matvec_row(w_up, e, up_row0 + j, xin, zero, zero,
                                   bias_up[static_cast<std::size_t>(e * gu_bias_rows + up_row0 + j)]);
        const Value a = swiglu_oai(g, u, p.alpha, p.swiglu_limit);
        h[static_cast<std::size_t>(j)] = a.v;
        h_err[static_cast<std::size_t>(j)] = a.err;
        h_var[static_cast<std::size_t>(j)] = a.var;
      }
      for (std::int64_t c = 0; c < H; ++c) {
        const Value o = matvec_row(x.down, e, c, h, h_err, h_var, bias_down[static_cast<std::size_t>(e * H + c)]);
        const auto i = static_cast<std::size_t>(t * H + c);
        r.y[i] += w * o.v;
        r.bound[i] += std::fabs(w) * o.err;
        r.variance[i] += w * w * o.var;
        magnitude[static_cast<std::size_t>(c)] += std::fabs(w) * (std::fabs(o.v) + o.err);
      }
    }
    for (std::int64_t c = 0; c < H; ++c) {
      r.bound[static_cast<std::size_t>(t * H + c)] += 2.0 * static_cast<double>(k + 2) * kUlp * magnitude[static_cast<std::size_t>(c)];
    }
  }
  return r;
}

Agreement agreement(const Tensor& actual, const ReferenceResult& ref) {
  const auto a = actual.as<float>();
  Agreement out;
  double err2 = 0, ref2 = 0, max_err = 0, var = 0;
  for (std::size_t i = 0; i < ref.y.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - ref.y[i]);
    if (!std::isfinite(d) || d > ref.bound[i]) ++out.outside_bound;
    err2 += d * d;
    ref2 += ref.y[i] * ref.y[i];
    var += ref.variance[i];
    max_err = std::max(max_err, d);
    out.max_err_over_bound = std::max(out.max_err_over_bound, d / ref.bound[i]);
  }
  const double n = static_cast<double>(ref.y.size());
  out.nmse = err2 / ref2;
  out.max_err_over_rms = max_err / std::sqrt(ref2 / n);
  out.predicted_nmse = var / ref2;
  return out;
}

}  // namespace mxg::ggml_family::testing
