// Error statistics over finite pairs after counting non-finite values, and the per-expert,
// per-tile error attribution.
#include "reference/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reference/scalar_convert.hpp"

namespace mxg::ref {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_float(DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32 || t == DType::F64; }

void check_pair(const Tensor& test, const Tensor& ref, std::string_view test_label, std::string_view ref_label) {
  for (auto [t, label] : {std::pair{&test, test_label}, std::pair{&ref, ref_label}}) {
    if (!is_float(t->dtype())) {
      throw InputError(fmt::format("{}: dtype {} is not a float type (expected F32, F64, BF16 or F16)", label,
                                   dtype_name(t->dtype())));
    }
  }
  if (test.shape() != ref.shape()) {
    throw InputError(fmt::format("{}: shape {} differs from {}: shape {}", test_label, shape_string(test.shape()),
                                 ref_label, shape_string(ref.shape())));
  }
}

// Worst first: non-finite count, then error, then the lower (expert, tile).
template <class Row>
bool worse(const Row& a, const Row& b) {
  if (a.nonfinite != b.nonfinite) return a.nonfinite > b.nonfinite;
  if (a.error != b.error) return a.error > b.error;
  if constexpr (requires { a.tile; }) return std::tie(a.expert, a.tile) < std::tie(b.expert, b.tile);
  return a.expert < b.expert;
}

}  // namespace

ErrorStats compare_values(std::span<const double> test, std::span<const double> ref) {
  ErrorStats s;
  s.elements = static_cast<std::int64_t>(test.size());
  double dot = 0, test_sq = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    const double y = test[i], r = ref[i];
    s.nan_test += std::isnan(y);
    s.inf_test += std::isinf(y);
    s.nan_ref += std::isnan(r);
    s.inf_ref += std::isinf(r);
    if (!std::isfinite(y) || !std::isfinite(r)) continue;
    ++s.finite_pairs;
    const double d = y - r;
    s.err_sq_sum += d * d;
    s.ref_sq_sum += r * r;
    dot += y * r;
    test_sq += y * y;
    if (std::fabs(d) > s.max_abs) {
      s.max_abs = std::fabs(d);
      s.max_abs_index = static_cast<std::int64_t>(i);
    }
  }
  if (s.finite_pairs == 0) {
    if (s.elements > 0) s.nmse = s.max_rel = s.cosine = s.rms_ref = s.max_abs = kNaN;
    return s;
  }
  if (s.max_abs_index < 0) {  // exact match: point at the first finite pair anyway
    for (std::size_t i = 0; i < test.size(); ++i) {
      if (std::isfinite(test[i]) && std::isfinite(ref[i])) {
        s.max_abs_index = static_cast<std::int64_t>(i);
        break;
      }
    }
  }
  s.nmse = s.ref_sq_sum > 0 ? s.err_sq_sum / s.ref_sq_sum : (s.err_sq_sum == 0 ? 0 : kInf);
  s.rms_ref = std::sqrt(s.ref_sq_sum / static_cast<double>(s.finite_pairs));
  s.max_rel = s.rms_ref > 0 ? s.max_abs / s.rms_ref : (s.max_abs == 0 ? 0 : kInf);
  if (test_sq == 0 && s.ref_sq_sum == 0) {
    s.cosine = 1;
  } else if (test_sq == 0 || s.ref_sq_sum == 0) {
    s.cosine = 0;
  } else {
    // One square root of the product: for y == r it is exactly sum y^2, so an exact match gives 1.
    s.cosine = std::clamp(dot / std::sqrt(test_sq * s.ref_sq_sum), -1.0, 1.0);
  }
  return s;
}

ErrorStats compare_tensors(const Tensor& test, const Tensor& ref, std::string_view test_label,
                           std::string_view ref_label) {
  check_pair(test, ref, test_label, ref_label);
  const std::vector<double> y = to_scalars<double>(test), r = to_scalars<double>(ref);
  return compare_values(y, r);
}

ErrorAttribution attribute_error(const Tensor& test, const Tensor& ref, const Routing& routing, std::int64_t top) {
  check_pair(test, ref, "output", "reference");
  if (test.rank() != 2) {
    throw InputError(fmt::format("output: shape {} is not [tokens, hidden]: error attribution needs 2 dimensions",
                                 shape_string(test.shape())));
  }
  const std::int64_t T = test.dim(0), H = test.dim(1), k = routing.topk;
  if (routing.tokens != T) {
    throw InputError(fmt::format("routing: {} tokens, but the output has {} (shape {})", routing.tokens, T,
                                 shape_string(test.shape())));
  }
  std::int64_t experts = 0;
  for (std::int32_t e : routing.ids) {
    if (e < 0) throw InputError(fmt::format("routing: expert id {} is negative", e));
    experts = std::max<std::int64_t>(experts, e + 1);
  }
  const std::int64_t tiles = (H + kAttributionTileRows - 1) / kAttributionTileRows;
  const std::vector<double> y = to_scalars<double>(test), r = to_scalars<double>(ref);

  std::vector<TileError> grid(static_cast<std::size_t>(experts * tiles));
  std::vector<ExpertError> per_expert(static_cast<std::size_t>(experts));
  for (std::int64_t e = 0; e < experts; ++e) {
    per_expert[e].expert = e;
    for (std::int64_t tau = 0; tau < tiles; ++tau) {
      grid[e * tiles + tau].expert = e;
      grid[e * tiles + tau].tile = tau;
    }
  }
  std::vector<double> token_tile_error(static_cast<std::size_t>(tiles));
  std::vector<std::int64_t> token_tile_nonfinite(static_cast<std::size_t>(tiles));
  ErrorAttribution out;
  for (std::int64_t t = 0; t < T; ++t) {
    std::ranges::fill(token_tile_error, 0.0);
    std::ranges::fill(token_tile_nonfinite, 0);
    for (std::int64_t h = 0; h < H; ++h) {
      const double yv = y[t * H + h], rv = r[t * H + h];
      if (std::isfinite(yv) && std::isfinite(rv)) {
        token_tile_error[h / kAttributionTileRows] += (yv - rv) * (yv - rv);
      } else {
        ++token_tile_nonfinite[h / kAttributionTileRows];
      }
    }
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t e = routing.id(t, j);
      const double w = routing.weight(t, j);
      ++per_expert[e].tokens;
      for (std::int64_t tau = 0; tau < tiles; ++tau) {
        TileError& cell = grid[e * tiles + tau];
        if (std::isfinite(w)) {
          cell.error += w * w * token_tile_error[tau];
          cell.nonfinite += token_tile_nonfinite[tau];
        } else {  // a non-finite weight spoils every row of the token it scales
          cell.nonfinite += std::min(kAttributionTileRows, H - tau * kAttributionTileRows);
        }
      }
    }
  }
  for (const TileError& cell : grid) {
    out.total_error += cell.error;
    per_expert[cell.expert].error += cell.error;
    per_expert[cell.expert].nonfinite += cell.nonfinite;
  }
  for (TileError& cell : grid) cell.share = out.total_error > 0 ? cell.error / out.total_error : 0;
  for (ExpertError& e : per_expert) {
    e.share = out.total_error > 0 ? e.error / out.total_error : 0;
    if (e.tokens > 0) out.experts.push_back(e);
  }
  std::erase_if(grid, [](const TileError& c) { return c.error == 0 && c.nonfinite == 0; });
  std::ranges::sort(grid, worse<TileError>);
  if (top > 0 && static_cast<std::int64_t>(grid.size()) > top) grid.resize(static_cast<std::size_t>(top));
  out.tiles = std::move(grid);
  std::ranges::sort(out.experts, worse<ExpertError>);
  return out;
}

}  // namespace mxg::ref
