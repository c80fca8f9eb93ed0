// Error statistics over finite pairs after counting non-finite values, and the per-expert,
// per-tile error attribution.
#include "reference/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
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

// The largest magnitude over finite pairs, as a power of two: dividing by it is exact and brings every
// value into [-1, 1], so squares and sums of squares neither overflow (1e200) nor underflow (1e-200).
int common_exponent(std::span<const double> test, std::span<const double> ref) {
  double biggest = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    if (!std::isfinite(test[i]) || !std::isfinite(ref[i])) continue;
    biggest = std::max({biggest, std::fabs(test[i]), std::fabs(ref[i])});
  }
  return biggest > 0 ? std::ilogb(biggest) + 1 : 0;
}

ErrorStats compare_values(std::span<const double> test, std::span<const double> ref) {
  ErrorStats s;
  s.elements = static_cast<std::int64_t>(test.size());
  const int exponent = common_exponent(test, ref);
  double dot = 0, test_sq = 0, err_sq = 0, ref_sq = 0, max_abs = 0;  // all in units of 2^exponent
  for (std::size_t i = 0; i < test.size(); ++i) {
    const double y0 = test[i], r0 = ref[i];
    s.nan_test += std::isnan(y0);
    s.inf_test += std::isinf(y0);
    s.nan_ref += std::isnan(r0);
    s.inf_ref += std::isinf(r0);
    if (!std::isfinite(y0) || !std::isfinite(r0)) continue;
    ++s.finite_pairs;
    const double y = std::ldexp(y0, -exponent), r = std::ldexp(r0, -exponent);
    const double d = y - r;
    err_sq += d * d;
    ref_sq += r * r;
    dot += y * r;
    test_sq += y * y;
    if (std::fabs(d) > max_abs) {
      max_abs = std::fabs(d);
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
  // Back to the data's units only where a value is reported in them (these may be inf for data near
  // DBL_MAX, but the ratios below are computed in the scaled units and stay exact).
  s.err_sq_sum = std::ldexp(err_sq, 2 * exponent);
  s.ref_sq_sum = std::ldexp(ref_sq, 2 * exponent);
  s.max_abs = std::ldexp(max_abs, exponent);
  const double rms_scaled = std::sqrt(ref_sq / static_cast<double>(s.finite_pairs));
  s.rms_ref = std::ldexp(rms_scaled, exponent);
  s.nmse = ref_sq > 0 ? err_sq / ref_sq : (err_sq == 0 ? 0 : kInf);
  s.max_rel = rms_scaled > 0 ? max_abs / rms_scaled : (max_abs == 0 ? 0 : kInf);
  if (test_sq == 0 && ref_sq == 0) {
    s.cosine = 1;
  } else if (test_sq == 0 || ref_sq == 0) {
    s.cosine = 0;
  } else {
    // One square root of the product: for y == r it is exactly sum y^2, so an exact match gives 1.
    s.cosine = std::clamp(dot / std::sqrt(test_sq * ref_sq), -1.0, 1.0);
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
  // Only the experts the routing names get rows (ids may be as large as INT32_MAX: a dense table
  // indexed by id, sized max id + 1, overflowed and wrote out of bounds).
  std::map<std::int32_t, std::int64_t> slot_of;
  for (std::int32_t e : routing.ids) {
    if (e < 0) throw InputError(fmt::format("routing: expert id {} is negative", e));
    slot_of.emplace(e, 0);
  }
  std::int64_t experts = 0;
  for (auto& [id, slot] : slot_of) slot = experts++;
  const std::int64_t tiles = (H + kAttributionTileRows - 1) / kAttributionTileRows;
  const std::vector<double> y = to_scalars<double>(test), r = to_scalars<double>(ref);

  std::vector<TileError> grid(static_cast<std::size_t>(experts * tiles));
  std::vector<ExpertError> per_expert(static_cast<std::size_t>(experts));
  for (const auto& [id, e] : slot_of) {
    per_expert[e].expert = id;
    for (std::int64_t tau = 0; tau < tiles; ++tau) {
      grid[e * tiles + tau].expert = id;
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
      const std::int64_t e = slot_of.at(static_cast<std::int32_t>(routing.id(t, j)));
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
  for (std::size_t c = 0; c < grid.size(); ++c) {
    const TileError& cell = grid[c];
    ExpertError& owner = per_expert[c / static_cast<std::size_t>(tiles)];
    out.total_error += cell.error;
    owner.error += cell.error;
    owner.nonfinite += cell.nonfinite;
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
