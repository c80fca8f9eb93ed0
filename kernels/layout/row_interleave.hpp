// Gate/up row de-interleave and its inverse (LAYOUTS.md §5): checkpoint rows [g0,u0,g1,u1,...]
// <-> [gate | up] halves, per expert, for weights, scales and biases alike.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "kernels/layout/geometry.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

// Raw fast paths: `src` and `dst` are g.total_bytes() long and must not overlap. Rows move whole,
// so any element type works (a bias row is one element). Needs g.rows even.
void deinterleave_rows(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                       std::string_view label, Threads threads = {});
void interleave_rows(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                     std::string_view label, Threads threads = {});

// Validating wrappers: same dtype and shape out as in. Shapes follow expert_rows(): [E, rows, ...]
// weights / scales, [E*rows, cols] scales with `experts`, [E, rows] biases without.
Tensor deinterleave_rows(const Tensor& t, std::optional<std::int64_t> experts, std::string_view label,
                         Threads threads = {});
Tensor interleave_rows(const Tensor& t, std::optional<std::int64_t> experts, std::string_view label,
                       Threads threads = {});

}  // namespace mxg::layout
