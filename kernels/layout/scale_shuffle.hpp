// AITER's E8M0 scale shuffles (LAYOUTS.md §7), separated and interleaved, with their padding, and
// the inverses that strip it again.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "kernels/layout/geometry.hpp"
#include "kernels/layout/index_maps.hpp"
#include "kernels/layout/parallel.hpp"
#include "kernels/layout/shuffle_options.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

// The index-map geometry of shuffling `g` (experts x rows x cols bytes) with `how`.
ScaleShuffleGeometry scale_shuffle_geometry(const ExpertRows& g, ShuffleOptions how);

// InputError naming the dimension unless AITER can shuffle this shape. Separated: any shape (it
// pads). Interleaved: rows % 32 == 0 per expert (with gate_up that is two halves of whole 16-row
// blocks); AITER's `32*cols*8 >= 256` then holds for every cols >= 1.
void check_scale_shuffle(const ExpertRows& g, ShuffleOptions how, std::string_view label);

// Raw paths. `src` is the unpadded stacked [E*rows, cols]; `dst` the padded 2-D output of
// scale_shuffle_geometry(g, how).padded_rows() x padded_cols() bytes. Shuffling writes padding as
// kScalePadByte; unshuffling ignores it.
void shuffle_scale(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                   ShuffleOptions how, std::string_view label, Threads threads = {});
void unshuffle_scale(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                     ShuffleOptions how, std::string_view label, Threads threads = {});

// How a scale tensor is read: [E, rows, cols], or stacked [E*rows, cols] with `experts` (without,
// one matrix; the interleaved shuffle with gate_up then refuses, since it splits each expert).
ExpertRows scale_rows(const Shape& shape, std::optional<std::int64_t> experts, ShuffleOptions how,
                      std::string_view label);

// Validating wrappers. shuffle_scale returns the padded 2-D [padded rows, padded cols] tensor, as
// AITER does. unshuffle_scale takes that tensor plus the unpadded geometry (experts, rows per
// expert, cols) and returns the stacked 2-D [E*rows, cols].
Tensor shuffle_scale(const Tensor& s, ShuffleOptions how, std::optional<std::int64_t> experts,
                     std::string_view label, Threads threads = {});
Tensor unshuffle_scale(const Tensor& padded, ShuffleOptions how, const ExpertRows& original,
                       std::string_view label, Threads threads = {});

}  // namespace mxg::layout
