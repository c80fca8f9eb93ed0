// Row decoding from device layout for the host backend (see device_matrix.hpp).
#include "kernels/backend/device_matrix.hpp"

#include <algorithm>
#include <array>

#include "kernels/format/mxfp4.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::host {
namespace {

// Both nibbles of every byte, decoded once: one table load per byte instead of two decodes.
struct PairTable {
  std::array<std::array<float, 2>, 256> values;
  PairTable() {
    for (int b = 0; b < 256; ++b) {
      const auto byte = static_cast<std::uint8_t>(b);
      values[b] = {mxfp4::e2m1_decode(mxfp4::low_code(byte)), mxfp4::e2m1_decode(mxfp4::high_code(byte))};
    }
  }
};

struct ScaleTable {
  std::array<float, 256> values;
  ScaleTable() {
    for (int s = 0; s < 256; ++s) values[s] = mxfp4::e8m0_decode(static_cast<std::uint8_t>(s));
  }
};

const PairTable& pair_table() {
  static const PairTable table;
  return table;
}
const ScaleTable& scale_table() {
  static const ScaleTable table;
  return table;
}

}  // namespace

void decode_row(const DeviceMatrix& m, std::int64_t e, std::int64_t row, std::int64_t k_used,
                std::int64_t padded_k, float* out) {
  const auto& pairs = pair_table().values;
  const auto& scales = scale_table().values;
  const std::uint8_t* expert = m.bytes + e * m.rows * m.row_bytes;
  const std::uint8_t* plain_row = expert + row * m.row_bytes;
  const std::int64_t global_row = e * m.rows + row;
  const std::int64_t blocks = layout::ceil_div(k_used, mxfp4::kBlock);

  for (std::int64_t j = 0; j < blocks; ++j) {
    const std::uint8_t scale_byte = m.shuffled ? m.scales[layout::scale_shuffle_offset(global_row, j, m.scale_cols)]
                                               : m.scales[global_row * m.scale_cols + j];
    const float scale = scales[scale_byte];
    const std::int64_t k_begin = j * mxfp4::kBlock;
    const std::int64_t k_end = std::min(k_used, k_begin + mxfp4::kBlock);
    // Whole pairs first (the common case is the whole block), then a last odd input if any.
    const std::int64_t pair_end = k_begin + (k_end - k_begin) / 2 * 2;
    if (m.shuffled) {
      for (std::int64_t k = k_begin; k < pair_end; k += 2) {
        const auto& v = pairs[expert[layout::tile_shuffle_offset(row, k / 2, m.row_bytes)]];
        out[k] = v[0] * scale;
        out[k + 1] = v[1] * scale;
      }
    } else {
      for (std::int64_t k = k_begin; k < pair_end; k += 2) {
        const auto& v = pairs[plain_row[k / 2]];
        out[k] = v[0] * scale;
        out[k + 1] = v[1] * scale;
      }
    }
    if (pair_end < k_end) {
      const std::int64_t c = pair_end / 2;
      out[pair_end] = pairs[m.shuffled ? expert[layout::tile_shuffle_offset(row, c, m.row_bytes)] : plain_row[c]][0] * scale;
    }
  }
  std::fill(out + k_used, out + padded_k, 0.0f);
}

}  // namespace mxg::host
