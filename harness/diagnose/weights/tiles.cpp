// Tile walks shared by hashing and comparison: the same (row, column run) order on both sides.
#include "harness/diagnose/weights/tiles.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace mxg::diagnose::weights {

namespace {

// Calls f(row, col, source_row, source_col, elements) for each run of non-padding elements of
// tile (rb, cb): a whole 16-byte chunk per row for blocks, single elements otherwise.
template <class F>
void for_each_run(const LayoutMap& m, std::int64_t rb, std::int64_t cb, F&& f) {
  const ChainGeometry& g = m.geometry();
  const std::int64_t r0 = rb * kTileRows, r1 = std::min(r0 + kTileRows, g.rows);
  const std::int64_t c0 = cb * kTileCols, c1 = std::min(c0 + kTileCols, g.cols);
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t sr = m.source_row(r);
    if (sr == LayoutMap::kPad) continue;
    if (m.chunked()) {
      const std::int64_t real_end = std::min(c1, g.real_cols);
      if (real_end > c0) f(r, c0, sr, m.source_col(c0), real_end - c0);
      continue;
    }
    for (std::int64_t c = c0; c < c1; ++c) {
      const std::int64_t sc = m.source_col(c);
      if (sc != LayoutMap::kPad) f(r, c, sr, sc, std::int64_t{1});
    }
  }
}

// 64-bit multiply-xorshift over 8-byte words: cheap, well mixed, and only a hint (every claim is
// confirmed byte by byte).
struct Hasher {
  std::uint64_t h = 0x243F6A8885A308D3ull;
  void word(std::uint64_t w) {
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
  }
  void bytes(const std::byte* p, std::size_t n) {
    while (n >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      word(w);
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      std::uint64_t w = 0;
      std::memcpy(&w, p, n);
      word(w ^ (std::uint64_t{n} << 56));
    }
  }
};

constexpr std::array<std::byte, 64> kZeros{};

const std::byte* checkpoint_element(const Operands& ops, std::int64_t e, std::int64_t sr, std::int64_t sc) {
  if (sr == LayoutMap::kZero) return kZeros.data();
  return ops.checkpoint.data() +
         ((e * ops.checkpoint_rows + sr) * ops.checkpoint_cols + sc) * ops.element_size;
}

}  // namespace

std::uint64_t dump_tile_hash(const Operands& ops, const LayoutMap& m, std::int64_t d, std::int64_t rb,
                             std::int64_t cb) {
  Hasher h;
  for_each_run(m, rb, cb, [&](std::int64_t r, std::int64_t c, std::int64_t, std::int64_t, std::int64_t n) {
    h.bytes(ops.dump.data() + m.offset(d, r, c) * ops.element_size, static_cast<std::size_t>(n * ops.element_size));
  });
  return h.h;
}

std::uint64_t checkpoint_tile_hash(const Operands& ops, const LayoutMap& m, std::int64_t e, std::int64_t rb,
                                   std::int64_t cb) {
  Hasher h;
  for_each_run(m, rb, cb, [&](std::int64_t, std::int64_t, std::int64_t sr, std::int64_t sc, std::int64_t n) {
    h.bytes(checkpoint_element(ops, e, sr, sc), static_cast<std::size_t>(n * ops.element_size));
  });
  return h.h;
}

std::int64_t tile_data_elements(const LayoutMap& m, std::int64_t rb, std::int64_t cb) {
  std::int64_t n = 0;
  for_each_run(m, rb, cb, [&](std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t k) { n += k; });
  return n;
}

TileComparison compare_tile(const Operands& ops, const LayoutMap& m, std::int64_t d, std::int64_t e,
                            std::int64_t rb, std::int64_t cb) {
  TileComparison out;
  const auto es = static_cast<std::size_t>(ops.element_size);
  for_each_run(m, rb, cb, [&](std::int64_t r, std::int64_t c, std::int64_t sr, std::int64_t sc, std::int64_t n) {
    out.has_data = true;
    out.elements += n;
    if (!out.equal) return;
    const std::int64_t offset = m.offset(d, r, c);
    const std::byte* dump = ops.dump.data() + offset * ops.element_size;
    const std::byte* src = e < 0 ? nullptr : checkpoint_element(ops, e, sr, sc);
    if (src != nullptr && std::memcmp(dump, src, static_cast<std::size_t>(n) * es) == 0) return;
    // Locate the first differing element of the run (all of them when there is no expert).
    std::int64_t k = 0;
    while (src != nullptr && k < n && std::memcmp(dump + k * ops.element_size, src + k * ops.element_size, es) == 0) ++k;
    out.equal = false;
    out.row = r;
    out.col = c + k;
    out.dump_offset = offset + k;
    out.source_row = sr;
    out.source_col = sr == LayoutMap::kZero ? 0 : sc + k;
  });
  return out;
}

}  // namespace mxg::diagnose::weights
