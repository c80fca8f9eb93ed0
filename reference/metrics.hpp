// Comparison of an output y with a reference r: the metrics every verdict in mxguard is based on
// (DESIGN.md "Comparison") and the attribution of the error to experts and 16-row tiles.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/tensor/tensor.hpp"
#include "reference/routing.hpp"

namespace mxg::ref {

// Non-finite values are counted first, on each side; every statistic is then taken over the
// finite pairs only (both y_i and r_i finite), so one NaN cannot hide or fake a match — callers
// must check any_nonfinite() before looking at the statistics.
//
//   nmse    = sum (y-r)^2 / sum r^2;           r == 0 everywhere: 0 if y == r, else +inf
//   max_rel = max |y-r| / RMS(r), RMS(r) = sqrt(sum r^2 / finite_pairs);  RMS 0: 0 if exact, else +inf
//   cosine  = sum y r / (|y| |r|), clamped to [-1, 1];  both zero: 1;  one zero: 0
// With no finite pair at all (but some elements) the statistics are NaN; with no elements they
// are those of an exact match (0, 0, 1).
struct ErrorStats {
  std::int64_t elements = 0;
  std::int64_t nan_test = 0, inf_test = 0;  // in y
  std::int64_t nan_ref = 0, inf_ref = 0;    // in r
  std::int64_t finite_pairs = 0;
  double err_sq_sum = 0;  // sum (y-r)^2 over finite pairs
  double ref_sq_sum = 0;  // sum r^2 over finite pairs
  double nmse = 0;
  double max_abs = 0;     // max |y-r| over finite pairs
  std::int64_t max_abs_index = -1;  // flat index of the first element reaching max_abs
  double rms_ref = 0;
  double max_rel = 0;
  double cosine = 1;

  std::int64_t nonfinite_test() const { return nan_test + inf_test; }
  std::int64_t nonfinite_ref() const { return nan_ref + inf_ref; }
  bool any_nonfinite() const { return nonfinite_test() + nonfinite_ref() > 0; }
};

ErrorStats compare_values(std::span<const double> test, std::span<const double> ref);

// Float tensors of equal shape (dtypes may differ, e.g. a BF16 kernel output against an F32
// reference). InputError naming both labels when the shapes differ or a dtype is not a float.
ErrorStats compare_tensors(const Tensor& test, const Tensor& ref, std::string_view test_label,
                           std::string_view ref_label);

// Where the error sits, given the routing that produced y ([T, H] outputs, routing of T tokens).
// Tile t of expert e is hidden rows 16t..16t+15 of e's down projection (the output rows of w2, so
// a broken w2 tile, or a broken activation feeding it, shows up there). For every token t, slot j
// (expert e, weight w) and hidden row h of tile tau:
//     error(e, tau) += w^2 * (y[t,h] - r[t,h])^2        for a finite pair,
//     nonfinite(e, tau) += 1                            otherwise (and for every row if w is not finite).
// A token's error is thus shared among its k experts in proportion to w^2, the square of each
// expert's part of the output. share = error / sum of error over all (expert, tile) (0 if the sum is 0).
// Offenders are ordered by nonfinite count, then error, both descending, then expert and tile ascending.
inline constexpr std::int64_t kAttributionTileRows = 16;

struct TileError {
  std::int64_t expert = 0;
  std::int64_t tile = 0;  // hidden rows [16 * tile, 16 * tile + 16)
  double error = 0;
  double share = 0;
  std::int64_t nonfinite = 0;
};

struct ExpertError {
  std::int64_t expert = 0;
  std::int64_t tokens = 0;  // (token, slot) pairs routed to it
  double error = 0;
  double share = 0;
  std::int64_t nonfinite = 0;
};

struct ErrorAttribution {
  double total_error = 0;
  std::vector<TileError> tiles;      // the `top` worst (all non-zero ones if top == 0)
  std::vector<ExpertError> experts;  // every routed expert, worst first
};

ErrorAttribution attribute_error(const Tensor& test, const Tensor& ref, const Routing& routing,
                                 std::int64_t top = 10);

}  // namespace mxg::ref
