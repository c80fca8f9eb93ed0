// E8M0 scale shuffles: byte-granular scatter (shuffle) / gather (unshuffle) through the §7 maps of
// index_maps.hpp, rows spread over threads.
#include "kernels/layout/scale_shuffle.hpp"

#include <cstring>

#include <fmt/format.h>

namespace mxg::layout {

namespace {

enum class Direction { shuffle, unshuffle };

// Moves every non-padding byte. Work items are rows of the stacked matrix; the row part of the map
// (expert base, gate/up block interleave) is invariant in the inner loop, which the compiler hoists.
void move_bytes(const std::byte* src, std::byte* dst, const ExpertRows& g, const ScaleShuffleGeometry& m,
                Direction dir, Threads threads) {
  const std::int64_t stacked_rows = g.experts * g.rows;
  parallel_for(stacked_rows, g.total_bytes(), threads, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t stacked = r0; stacked < r1; ++stacked) {
      const std::int64_t e = stacked / g.rows, r = stacked % g.rows;
      const std::byte* plain_src = src + stacked * g.row_bytes;
      std::byte* plain_dst = dst + stacked * g.row_bytes;
      for (std::int64_t j = 0; j < g.row_bytes; ++j) {
        const std::int64_t tiled = scale_map_offset(m, e, r, j);
        if (dir == Direction::shuffle) {
          dst[tiled] = plain_src[j];
        } else {
          plain_dst[j] = src[tiled];
        }
      }
    }
  });
}

std::int64_t padded_bytes(const ScaleShuffleGeometry& m) { return m.padded_rows() * m.padded_cols(); }

void check_raw(std::size_t src_bytes, std::size_t dst_bytes, std::int64_t src_expected, std::int64_t dst_expected) {
  require_buffer_size(src_bytes, src_expected, "source");
  require_buffer_size(dst_bytes, dst_expected, "destination");
}

}  // namespace

ScaleShuffleGeometry scale_shuffle_geometry(const ExpertRows& g, ShuffleOptions how) {
  return {g.experts, g.rows, g.row_bytes, how.mode == TileMode::interleaved, how.block_interleaves()};
}

void check_scale_shuffle(const ExpertRows& g, ShuffleOptions how, std::string_view label) {
  if (how.mode == TileMode::separated) return;  // it pads whatever it gets
  require_multiple(label, "rows", g.rows, kScaleBlockRows,
                   how.gate_up ? "interleaved scale shuffle with gate_up" : "interleaved scale shuffle");
}

void shuffle_scale(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                   ShuffleOptions how, std::string_view label, Threads threads) {
  check_scale_shuffle(g, how, label);
  const ScaleShuffleGeometry m = scale_shuffle_geometry(g, how);
  check_raw(src.size(), dst.size(), g.total_bytes(), padded_bytes(m));
  std::memset(dst.data(), kScalePadByte, dst.size());
  move_bytes(src.data(), dst.data(), g, m, Direction::shuffle, threads);
}

void unshuffle_scale(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                     ShuffleOptions how, std::string_view label, Threads threads) {
  check_scale_shuffle(g, how, label);
  const ScaleShuffleGeometry m = scale_shuffle_geometry(g, how);
  check_raw(src.size(), dst.size(), padded_bytes(m), g.total_bytes());
  move_bytes(src.data(), dst.data(), g, m, Direction::unshuffle, threads);
}

ExpertRows scale_rows(const Shape& shape, std::optional<std::int64_t> experts, ShuffleOptions how,
                      std::string_view label) {
  if (shape.size() == 2 && !experts) {
    if (how.block_interleaves()) {
      input_error(label, fmt::format("a 2-D scale {} needs the expert count (--experts) for the interleaved "
                                     "shuffle with gate_up, which splits each expert into gate and up halves",
                                     shape_string(shape)));
    }
    experts = 1;
  }
  if (shape.size() != 2 && shape.size() != 3) {
    input_error(label, fmt::format("scale shape {} must be [E, rows, cols] or [E*rows, cols]", shape_string(shape)));
  }
  return expert_rows(shape, 1, experts, label);
}

Tensor shuffle_scale(const Tensor& s, ShuffleOptions how, std::optional<std::int64_t> experts,
                     std::string_view label, Threads threads) {
  require_byte_dtype(s, label, "a scale shuffle");
  const ExpertRows g = scale_rows(s.shape(), experts, how, label);
  check_scale_shuffle(g, how, label);
  const ScaleShuffleGeometry m = scale_shuffle_geometry(g, how);
  Tensor out(s.dtype(), {m.padded_rows(), m.padded_cols()});
  shuffle_scale(s.bytes(), out.mutable_bytes(), g, how, label, threads);
  return out;
}

Tensor unshuffle_scale(const Tensor& padded, ShuffleOptions how, const ExpertRows& original,
                       std::string_view label, Threads threads) {
  require_byte_dtype(padded, label, "a scale shuffle");
  check_scale_shuffle(original, how, label);
  const ScaleShuffleGeometry m = scale_shuffle_geometry(original, how);
  const Shape expected{m.padded_rows(), m.padded_cols()};
  if (padded.shape() != expected) {
    input_error(label, fmt::format("shape {} is not the {} scale shuffle of {} experts x {} rows x {} cols, which "
                                   "is {}",
                                   shape_string(padded.shape()), tile_mode_name(how.mode), original.experts,
                                   original.rows, original.row_bytes, shape_string(expected)));
  }
  Tensor out(padded.dtype(), {original.experts * original.rows, original.row_bytes});
  unshuffle_scale(padded.bytes(), out.mutable_bytes(), original, how, label, threads);
  return out;
}

}  // namespace mxg::layout
