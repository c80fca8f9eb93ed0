// AITER's 16x16 weight tile shuffles (LAYOUTS.md §6), separated and interleaved, and their
// inverses, on packed MXFP4 bytes [E, rows, row_bytes].
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "kernels/layout/geometry.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/layout/shuffle_options.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

// Throws InputError naming the dimension unless AITER can shuffle this shape:
//   separated:               rows % 16 == 0, row_bytes % 32 == 0
//   interleaved:             rows % 16 == 0, row_bytes % 64 == 0
//   interleaved with gate_up rows % 32 == 0 (two halves of whole 16-row blocks), row_bytes % 64 == 0
void check_weight_shuffle(const ExpertRows& g, ShuffleOptions how, std::string_view label);

// Raw fast paths over non-overlapping buffers of g.total_bytes(). Each tile row is 16 contiguous
// bytes in both layouts, so the copy moves 16-byte chunks and writes (shuffle) or reads
// (unshuffle) the tiled buffer front to back.
void shuffle_weight(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                    ShuffleOptions how, std::string_view label, Threads threads = {});
void unshuffle_weight(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                      ShuffleOptions how, std::string_view label, Threads threads = {});

// Validating wrappers on one-byte tensors [E, rows, K/2] or checkpoint blocks [E, rows, K/32, 16]
// (shape kept), stacked [E*rows, K/2] with `experts`, or one matrix [rows, K/2] without.
Tensor shuffle_weight(const Tensor& w, ShuffleOptions how, std::optional<std::int64_t> experts,
                      std::string_view label, Threads threads = {});
Tensor unshuffle_weight(const Tensor& w, ShuffleOptions how, std::optional<std::int64_t> experts,
                        std::string_view label, Threads threads = {});

// The geometry the Tensor wrappers read a weight as (also used by `layout explain`).
ExpertRows weight_rows(const Shape& shape, std::optional<std::int64_t> experts, std::string_view label);

}  // namespace mxg::layout
