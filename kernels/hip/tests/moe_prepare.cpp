// Device preparations for the GPU tests, built on the index maps.
#include "kernels/hip/tests/moe_prepare.hpp"

#include <cstring>

#include "kernels/layout/index_maps.hpp"

namespace mxg::gpu::testing {
namespace {

struct Matrix {
  std::int64_t experts, rows, row_bytes, scale_cols;
};

// Writes the weights and scales of `m` into the kernel's byte order: input row r becomes logical
// row logical_row(r), stored row-major or tile-shuffled. A tile row is 16 contiguous bytes in both
// layouts, so 16-byte chunks move whole.
template <class LogicalRow>
void place(const Matrix& m, const std::uint8_t* weights, const std::uint8_t* scales, bool shuffled,
           LogicalRow logical_row, std::vector<std::uint8_t>& w_out, std::vector<std::uint8_t>& s_out,
           std::int64_t& s_rows, std::int64_t& s_cols) {
  using namespace mxg::layout;
  const std::int64_t stacked = m.experts * m.rows;
  s_cols = shuffled ? scale_padded_cols(m.scale_cols) : m.scale_cols;
  s_rows = shuffled ? separated_scale_padded_rows(stacked) : stacked;
  w_out.assign(stacked * m.row_bytes, 0);
  s_out.assign(s_rows * s_cols, kScalePadByte);
  for (std::int64_t e = 0; e < m.experts; ++e) {
    std::uint8_t* expert = &w_out[e * m.rows * m.row_bytes];
    for (std::int64_t r = 0; r < m.rows; ++r) {
      const std::int64_t row = logical_row(r);
      const std::uint8_t* src = weights + (e * m.rows + r) * m.row_bytes;
      for (std::int64_t c = 0; c < m.row_bytes; c += kTileBytes) {
        const std::int64_t at = shuffled ? tile_shuffle_offset(row, c, m.row_bytes) : row * m.row_bytes + c;
        std::memcpy(expert + at, src + c, kTileBytes);
      }
      const std::int64_t srow = e * m.rows + row;
      for (std::int64_t j = 0; j < m.scale_cols; ++j) {
        const std::int64_t at = shuffled ? scale_shuffle_offset(srow, j, s_cols) : srow * s_cols + j;
        s_out[at] = scales[(e * m.rows + r) * m.scale_cols + j];
      }
    }
  }
}

}  // namespace

DeviceLayout prepare_layout(const CanonicalMoe& c, GateMode gate_mode, bool shuffled) {
  using namespace mxg::layout;
  const MoeCaseSpec& s = c.spec;
  const std::int64_t E = s.experts, Hp = s.hidden_padded, Ip = s.intermediate_padded, rows13 = 2 * Ip;
  DeviceLayout d;

  const bool interleave = gate_mode == GateMode::Interleave;
  auto w13_row = [&](std::int64_t checkpoint_row) {
    const std::int64_t separated = deinterleave_row(checkpoint_row, rows13);
    return interleave ? block_interleave_row(separated, rows13) : separated;
  };
  place({E, rows13, Hp / 2, Hp / 32}, c.w13.data(), c.w13_scale.data(), shuffled, w13_row, d.w13, d.w13_scale,
        d.w13_scale_rows, d.w13_scale_cols);
  place({E, Hp, Ip / 2, Ip / 32}, c.w2.data(), c.w2_scale.data(), shuffled, [](std::int64_t r) { return r; },
        d.w2, d.w2_scale, d.w2_scale_rows, d.w2_scale_cols);

  d.w13_bias.assign(E * rows13, 0.0f);
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t r = 0; r < rows13; ++r)
      d.w13_bias[e * rows13 + deinterleave_row(r, rows13)] = c.w13_bias[e * rows13 + r];
  d.w2_bias = c.w2_bias;
  return d;
}

}  // namespace mxg::gpu::testing
