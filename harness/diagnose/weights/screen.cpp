// Probe-tile fingerprint voting.
#include "harness/diagnose/weights/screen.hpp"

#include <algorithm>
#include <utility>

namespace mxg::diagnose::weights {

std::vector<TileRef> probe_tiles(const LayoutMap& m, int count) {
  const ChainGeometry& g = m.geometry();
  // Row blocks whose rows all hold data (or the zeroed bias); if none does, any with some data.
  std::vector<std::int64_t> full, partial;
  for (std::int64_t rb = 0; rb < m.row_blocks(); ++rb) {
    bool all = true, any = false;
    for (std::int64_t r = rb * kTileRows; r < std::min((rb + 1) * kTileRows, g.rows); ++r) {
      const bool data = m.source_row(r) != LayoutMap::kPad;
      all = all && data;
      any = any || data;
    }
    if (all) full.push_back(rb);
    if (any) partial.push_back(rb);
  }
  const std::vector<std::int64_t>& rbs = full.empty() ? partial : full;
  const std::int64_t cbs = g.real_cols == 0 ? 0 : (g.real_cols + kTileCols - 1) / kTileCols;
  std::vector<TileRef> out;
  if (rbs.empty() || cbs == 0 || count <= 0) return out;
  const auto n_rows = static_cast<std::int64_t>(rbs.size());
  const std::int64_t n = std::min<std::int64_t>(count, n_rows * cbs);
  for (std::int64_t k = 0; k < n; ++k) {
    // Evenly spaced rows from the first block to the last; columns stepped by a stride coprime-ish
    // to the row step so the probes do not all sit in one column block.
    const std::int64_t ri = n == 1 ? 0 : k * (n_rows - 1) / (n - 1);
    const std::int64_t cb = k + 1 == n ? cbs - 1 : (k * 5 + ri) % cbs;
    out.push_back({rbs[static_cast<std::size_t>(ri)], cb});
  }
  return out;
}

Screen screen_chain(const Operands& ops, const LayoutMap& m, const ScreenOptions& options) {
  const std::int64_t dump_experts = m.geometry().dump_experts, experts = ops.checkpoint_experts;
  Screen s;
  s.experts.assign(static_cast<std::size_t>(dump_experts), -1);
  s.ties.resize(static_cast<std::size_t>(dump_experts));
  const std::vector<TileRef> probes = probe_tiles(m, options.probes);
  if (probes.empty() || dump_experts == 0) return s;

  std::vector<std::uint16_t> votes(static_cast<std::size_t>(dump_experts * experts), 0);
  std::vector<std::pair<std::uint64_t, std::int64_t>> source(static_cast<std::size_t>(experts));
  auto best_total = [&] {
    std::int64_t total = 0;
    for (std::int64_t d = 0; d < dump_experts; ++d) {
      const auto* row = votes.data() + d * experts;
      total += *std::max_element(row, row + experts);
    }
    return total;
  };
  for (const TileRef& p : probes) {
    for (std::int64_t e = 0; e < experts; ++e) {
      source[static_cast<std::size_t>(e)] = {checkpoint_tile_hash(ops, m, e, p.row_block, p.col_block), e};
    }
    std::ranges::sort(source);
    for (std::int64_t d = 0; d < dump_experts; ++d) {
      const std::uint64_t h = dump_tile_hash(ops, m, d, p.row_block, p.col_block);
      auto it = std::lower_bound(source.begin(), source.end(), std::pair<std::uint64_t, std::int64_t>{h, -1});
      for (; it != source.end() && it->first == h; ++it) ++votes[static_cast<std::size_t>(d * experts + it->second)];
    }
    ++s.probes;
    if (s.probes == options.early_probes && s.probes < static_cast<int>(probes.size()) &&
        2 * best_total() < dump_experts * s.probes) {
      break;
    }
  }
  s.score = static_cast<double>(best_total()) / static_cast<double>(dump_experts * s.probes);

  // Pairing: the most-voted checkpoint expert; among equals, the one continuing the previous
  // dump expert's (experts are usually a contiguous range), else the first not taken yet.
  std::vector<bool> taken(static_cast<std::size_t>(experts), false);
  for (std::int64_t d = 0; d < dump_experts; ++d) {
    const auto* row = votes.data() + d * experts;
    const std::uint16_t best = *std::max_element(row, row + experts);
    if (best == 0) continue;
    auto& ties = s.ties[static_cast<std::size_t>(d)];
    for (std::int64_t e = 0; e < experts; ++e) {
      if (row[e] == best) ties.push_back(e);
    }
    std::int64_t pick = ties.front();
    const std::int64_t next = d > 0 && s.experts[static_cast<std::size_t>(d - 1)] >= 0
                                  ? s.experts[static_cast<std::size_t>(d - 1)] + 1
                                  : -1;
    if (std::ranges::find(ties, next) != ties.end()) {
      pick = next;
    } else if (auto free = std::ranges::find_if(ties, [&](std::int64_t e) { return !taken[static_cast<std::size_t>(e)]; });
               free != ties.end()) {
      pick = *free;
    }
    s.experts[static_cast<std::size_t>(d)] = pick;
    taken[static_cast<std::size_t>(pick)] = true;
  }
  return s;
}

}  // namespace mxg::diagnose::weights
