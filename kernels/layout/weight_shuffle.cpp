// Weight tile shuffles: per expert, 16 rows at a time, one 16-byte tile row per memcpy; the
// destination offset of every chunk comes from index_maps.hpp.
#include "kernels/layout/weight_shuffle.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "kernels/layout/index_maps.hpp"

namespace mxg::layout {

namespace {

enum class Direction { shuffle, unshuffle };

// One expert. `r` runs over the rows of the tile formula (the block-interleaved order when
// `how.block_interleaves()`); `plain_row` is where that row lives in the unshuffled matrix.
// Two things keep this near memcpy speed (kernels/layout/bench): inside one 16-row block the tile
// offset is affine in (row in block, 16-byte chunk), so it is evaluated once per block and stepped
// (calling tile_shuffle_offset per chunk made the shuffle compute-bound at a quarter of memcpy);
// and the next block's source lines are prefetched while this block is copied, since the 16
// strided source rows defeat the hardware prefetcher. Loops run in destination order.
void move_expert(const std::byte* src, std::byte* dst, std::int64_t rows, std::int64_t row_bytes,
                 ShuffleOptions how, Direction dir) {
  const bool blocked = how.block_interleaves();
  const auto copy = [](std::byte* to, const std::byte* from) { std::memcpy(to, from, kTileBytes); };
  constexpr std::int64_t kLine = 64;  // cache line: one prefetch per line
  auto plain_offsets = [&](std::int64_t block, std::array<std::int64_t, kTileRows>& out) {
    for (std::int64_t i = 0; i < kTileRows; ++i) {
      const std::int64_t r = std::min(block + i, rows - 1);  // past the end: a harmless repeat prefetch
      out[static_cast<std::size_t>(i)] = (blocked ? block_deinterleave_row(r, rows) : r) * row_bytes;
    }
  };
  std::array<std::int64_t, kTileRows> plain{}, next_plain{};
  plain_offsets(0, next_plain);
  for (std::int64_t block = 0; block < rows; block += kTileRows) {
    plain = next_plain;
    plain_offsets(block + kTileRows, next_plain);
    const std::int64_t base = tile_shuffle_offset(block, 0, row_bytes);
    const std::int64_t chunk_step = tile_shuffle_offset(block, kTileBytes, row_bytes) - base;
    const std::int64_t row_step = tile_shuffle_offset(block + 1, 0, row_bytes) - base;
    if (dir == Direction::shuffle) {  // tiled destination: chunks outer, rows inner
      std::int64_t tiled_chunk = base;
      for (std::int64_t c = 0; c < row_bytes; c += kTileBytes, tiled_chunk += chunk_step) {
        if (c % kLine == 0) {
          for (const std::int64_t p : next_plain) __builtin_prefetch(src + p + c);
        }
        for (std::int64_t i = 0; i < kTileRows; ++i) {
          copy(dst + tiled_chunk + i * row_step, src + plain[static_cast<std::size_t>(i)] + c);
        }
      }
    } else {  // plain destination: rows outer, chunks inner; the next block's tiles follow this one's
      const std::int64_t next_base = base + kTileRows * row_bytes;
      const bool has_next = block + kTileRows < rows;
      for (std::int64_t i = 0; i < kTileRows; ++i) {
        std::int64_t tiled = base + i * row_step;
        for (std::int64_t c = 0; c < row_bytes; c += kTileBytes, tiled += chunk_step) {
          if (has_next && c % kLine == 0) __builtin_prefetch(src + next_base + i * row_bytes + c);
          copy(dst + plain[static_cast<std::size_t>(i)] + c, src + tiled);
        }
      }
    }
  }
}

void run_raw(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g, ShuffleOptions how,
             Direction dir, Threads threads) {
  parallel_for(g.experts, g.total_bytes(), threads, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      move_expert(src.data() + e * g.expert_bytes(), dst.data() + e * g.expert_bytes(), g.rows, g.row_bytes, how,
                  dir);
    }
  });
}

void check_raw(std::size_t src_bytes, std::size_t dst_bytes, const ExpertRows& g, ShuffleOptions how,
               std::string_view label) {
  check_weight_shuffle(g, how, label);
  require_buffer_size(src_bytes, g.total_bytes(), "source");
  require_buffer_size(dst_bytes, g.total_bytes(), "destination");
}

Tensor run_tensor(const Tensor& w, ShuffleOptions how, std::optional<std::int64_t> experts, std::string_view label,
                  Direction dir, Threads threads) {
  require_byte_dtype(w, label, "a weight shuffle");
  const ExpertRows g = weight_rows(w.shape(), experts, label);
  check_weight_shuffle(g, how, label);
  Tensor out(w.dtype(), w.shape());
  run_raw(w.bytes(), out.mutable_bytes(), g, how, dir, threads);
  return out;
}

}  // namespace

void check_weight_shuffle(const ExpertRows& g, ShuffleOptions how, std::string_view label) {
  if (how.mode == TileMode::separated) {
    require_multiple(label, "rows", g.rows, kTileRows, "separated-tiles shuffle");
    require_multiple(label, "row bytes", g.row_bytes, 2 * kTileBytes, "separated-tiles shuffle");
    return;
  }
  if (how.gate_up) {
    require_multiple(label, "rows", g.rows, 2 * kTileRows, "interleaved-tiles shuffle with gate_up");
  } else {
    require_multiple(label, "rows", g.rows, kTileRows, "interleaved-tiles shuffle");
  }
  require_multiple(label, "row bytes", g.row_bytes, 4 * kTileBytes, "interleaved-tiles shuffle");
}

ExpertRows weight_rows(const Shape& shape, std::optional<std::int64_t> experts, std::string_view label) {
  // A 2-D weight without `experts` is one matrix (AITER flattens leading dims the same way).
  return expert_rows(shape, 1, shape.size() == 2 && !experts ? std::optional<std::int64_t>{1} : experts, label);
}

void shuffle_weight(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                    ShuffleOptions how, std::string_view label, Threads threads) {
  check_raw(src.size(), dst.size(), g, how, label);
  run_raw(src, dst, g, how, Direction::shuffle, threads);
}

void unshuffle_weight(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                      ShuffleOptions how, std::string_view label, Threads threads) {
  check_raw(src.size(), dst.size(), g, how, label);
  run_raw(src, dst, g, how, Direction::unshuffle, threads);
}

Tensor shuffle_weight(const Tensor& w, ShuffleOptions how, std::optional<std::int64_t> experts,
                      std::string_view label, Threads threads) {
  return run_tensor(w, how, experts, label, Direction::shuffle, threads);
}

Tensor unshuffle_weight(const Tensor& w, ShuffleOptions how, std::optional<std::int64_t> experts,
                        std::string_view label, Threads threads) {
  return run_tensor(w, how, experts, label, Direction::unshuffle, threads);
}

}  // namespace mxg::layout
