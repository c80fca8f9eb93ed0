// Tile-by-tile byte comparison, dump experts spread over threads.
#include "harness/diagnose/weights/verify.hpp"

#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "kernels/layout/parallel.hpp"

namespace mxg::diagnose::weights {

namespace {

std::string element_text(const std::byte* p, std::int64_t element_size) {
  if (element_size == 1) return fmt::format("0x{:02x}", static_cast<unsigned>(*p));
  float v;
  std::memcpy(&v, p, sizeof v);
  return fmt::format("{}", v);
}

Mismatch describe(const Operands& ops, const TileComparison& t, std::int64_t d, std::int64_t e, std::int64_t rb,
                  std::int64_t cb) {
  Mismatch m{d, rb, cb, t.row, t.col, t.dump_offset, e, t.source_row, t.source_col, {}, {}};
  m.dump_value = element_text(ops.dump.data() + t.dump_offset * ops.element_size, ops.element_size);
  if (e < 0) {
    m.checkpoint_value = "-";
  } else if (t.source_row == LayoutMap::kZero) {
    m.checkpoint_value = "0 (zeroed)";
  } else {
    const std::int64_t at = (e * ops.checkpoint_rows + t.source_row) * ops.checkpoint_cols + t.source_col;
    m.checkpoint_value = element_text(ops.checkpoint.data() + at * ops.element_size, ops.element_size);
  }
  return m;
}

struct Partial {
  std::int64_t tiles = 0, matched = 0, elements = 0, matched_elements = 0;
  std::vector<Mismatch> first;
};

}  // namespace

Verification verify_chain(const Operands& ops, const LayoutMap& m, const std::vector<std::int64_t>& experts,
                          const VerifyOptions& o) {
  const std::int64_t dump_experts = m.geometry().dump_experts;
  std::vector<Partial> parts(static_cast<std::size_t>(dump_experts));
  std::atomic<std::int64_t> lost{0};
  std::atomic<bool> stop{false};
  layout::parallel_for(dump_experts, static_cast<std::int64_t>(ops.dump.size()), layout::Threads{o.threads},
                       [&](std::int64_t d0, std::int64_t d1) {
    for (std::int64_t d = d0; d < d1 && !stop.load(std::memory_order_relaxed); ++d) {
      Partial& p = parts[static_cast<std::size_t>(d)];
      const std::int64_t e = experts[static_cast<std::size_t>(d)];
      for (std::int64_t rb = 0; rb < m.row_blocks() && !stop.load(std::memory_order_relaxed); ++rb) {
        for (std::int64_t cb = 0; cb < m.col_blocks(); ++cb) {
          const TileComparison t = compare_tile(ops, m, d, e, rb, cb);
          if (!t.has_data) continue;
          ++p.tiles;
          p.elements += t.elements;
          if (t.equal) {
            ++p.matched;
            p.matched_elements += t.elements;
            continue;
          }
          if (p.first.size() < o.max_records) {
            p.first.push_back(describe(ops, t, d, e, rb, cb));
          }
          if (o.stop_after_lost > 0 && lost.fetch_add(t.elements) + t.elements >= o.stop_after_lost) stop.store(true);
        }
      }
    }
  });
  Verification v;
  v.stopped = stop.load();
  for (const Partial& p : parts) {
    v.tiles += p.tiles;
    v.matched += p.matched;
    v.elements += p.elements;
    v.matched_elements += p.matched_elements;
    for (const Mismatch& mm : p.first) {
      if (v.first.size() < o.max_records) v.first.push_back(mm);
    }
  }
  return v;
}

std::int64_t matching_tiles(const Operands& ops, const LayoutMap& m, std::int64_t d, std::int64_t e) {
  std::int64_t n = 0;
  for (std::int64_t rb = 0; rb < m.row_blocks(); ++rb) {
    for (std::int64_t cb = 0; cb < m.col_blocks(); ++cb) {
      const TileComparison t = compare_tile(ops, m, d, e, rb, cb);
      if (t.has_data && t.equal) ++n;
    }
  }
  return n;
}

}  // namespace mxg::diagnose::weights
