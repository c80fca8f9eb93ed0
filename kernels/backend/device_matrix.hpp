// How the host backend reads one expert-stacked MXFP4 matrix (w13 or w2) from DEVICE-layout
// bytes, exactly as LAYOUTS.md §8 says a kernel does: plain row-major, or the tile and scale
// shuffles of §6/§7 through kernels/layout/index_maps.hpp.
#pragma once

#include <cstdint>

namespace mxg::host {

struct DeviceMatrix {
  const std::uint8_t* bytes = nullptr;   // [experts, rows, row_bytes] packed E2M1 pairs
  const std::uint8_t* scales = nullptr;  // 2-D [scale_rows, scale_cols] E8M0, global row = e*rows + row
  std::int64_t rows = 0;                 // rows per expert (in the row order the kernel reads)
  std::int64_t row_bytes = 0;            // Kb: packed bytes per row
  std::int64_t scale_cols = 0;           // C: the scale tensor's (possibly padded) column count
  bool shuffled = false;                 // is_shuffled: read through the §6/§7 shuffles
};

// Dequantises inputs [0, k_used) of row `row` of expert `e` into out[0, k_used) and writes
// zeros to out[k_used, padded_k). Inputs at or beyond k_used are never read, so padding bytes
// and scales (which may be poisoned) cannot reach the result.
void decode_row(const DeviceMatrix& m, std::int64_t e, std::int64_t row, std::int64_t k_used,
                std::int64_t padded_k, float* out);

}  // namespace mxg::host
