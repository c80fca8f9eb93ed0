// Gate/up row de-interleave / interleave: whole rows copied with memcpy, experts over threads.
#include "kernels/layout/row_interleave.hpp"

#include <cstring>

#include "kernels/layout/index_maps.hpp"

namespace mxg::layout {

namespace {

void check(std::size_t src_bytes, std::size_t dst_bytes, const ExpertRows& g, std::string_view label) {
  require_multiple(label, "rows", g.rows, 2, "gate/up de-interleave");
  require_buffer_size(src_bytes, g.total_bytes(), "source");
  require_buffer_size(dst_bytes, g.total_bytes(), "destination");
}

// Checkpoint row r <-> separated row deinterleave_row(r): scatter when de-interleaving, gather when
// interleaving, so both directions use the one forward formula.
enum class Direction { to_separated, to_checkpoint };

void move_rows(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g, Direction dir,
               Threads threads) {
  const auto rb = static_cast<std::size_t>(g.row_bytes);
  parallel_for(g.experts, g.total_bytes(), threads, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      const std::byte* s = src.data() + e * g.expert_bytes();
      std::byte* d = dst.data() + e * g.expert_bytes();
      for (std::int64_t r = 0; r < g.rows; ++r) {
        const std::int64_t separated = deinterleave_row(r, g.rows);
        if (dir == Direction::to_separated) {
          std::memcpy(d + separated * g.row_bytes, s + r * g.row_bytes, rb);
        } else {
          std::memcpy(d + r * g.row_bytes, s + separated * g.row_bytes, rb);
        }
      }
    }
  });
}

Tensor run(const Tensor& t, std::optional<std::int64_t> experts, std::string_view label, Direction dir,
           Threads threads) {
  const ExpertRows g = expert_rows(t.shape(), dtype_size(t.dtype()), experts, label);
  require_multiple(label, "rows", g.rows, 2, "gate/up de-interleave");
  Tensor out(t.dtype(), t.shape());
  move_rows(t.bytes(), out.mutable_bytes(), g, dir, threads);
  return out;
}

}  // namespace

void deinterleave_rows(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                       std::string_view label, Threads threads) {
  check(src.size(), dst.size(), g, label);
  move_rows(src, dst, g, Direction::to_separated, threads);
}

void interleave_rows(std::span<const std::byte> src, std::span<std::byte> dst, const ExpertRows& g,
                     std::string_view label, Threads threads) {
  check(src.size(), dst.size(), g, label);
  move_rows(src, dst, g, Direction::to_checkpoint, threads);
}

Tensor deinterleave_rows(const Tensor& t, std::optional<std::int64_t> experts, std::string_view label,
                         Threads threads) {
  return run(t, experts, label, Direction::to_separated, threads);
}

Tensor interleave_rows(const Tensor& t, std::optional<std::int64_t> experts, std::string_view label,
                       Threads threads) {
  return run(t, experts, label, Direction::to_checkpoint, threads);
}

}  // namespace mxg::layout
