// Reading one 16x16 logical tile of a dump and the checkpoint elements a chain says it holds:
// fingerprints (64-bit hashes, used only to rank candidates and to pair experts) and exact byte
// comparison (the only thing a match claim rests on). Padding is skipped on both sides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "harness/diagnose/weights/layout_map.hpp"

namespace mxg::diagnose::weights {

// The bytes a search reads, in elements of `element_size` bytes: bytes for blocks and scales,
// canonical f32 values for biases (so a BF16 checkpoint bias compares with an F32 dump).
struct Operands {
  std::span<const std::byte> checkpoint;  // [E, checkpoint_rows, checkpoint_cols] elements
  std::int64_t checkpoint_experts = 0, checkpoint_rows = 0, checkpoint_cols = 0;
  std::span<const std::byte> dump;
  std::int64_t element_size = 1;
};

// Fingerprint of the elements tile (rb, cb) of dump expert d holds, in a fixed position order.
std::uint64_t dump_tile_hash(const Operands& ops, const LayoutMap& map, std::int64_t d, std::int64_t rb,
                             std::int64_t cb);
// Fingerprint of what checkpoint expert e puts into that tile under the map (same position order,
// so equal content gives equal hashes).
std::uint64_t checkpoint_tile_hash(const Operands& ops, const LayoutMap& map, std::int64_t e, std::int64_t rb,
                                   std::int64_t cb);

// Elements of the tile that are not padding (0: an all-padding tile, which is never counted).
std::int64_t tile_data_elements(const LayoutMap& map, std::int64_t rb, std::int64_t cb);

struct TileComparison {
  bool has_data = false;
  std::int64_t elements = 0;  // non-padding elements of the tile
  bool equal = true;
  // First differing element when !equal: its logical row / col, dump offset (elements) and the
  // checkpoint row / col it should hold (LayoutMap::kZero for the zeroed down bias).
  std::int64_t row = 0, col = 0, dump_offset = 0, source_row = 0, source_col = 0;
};
// Byte comparison of dump expert d's tile with checkpoint expert e (e < 0: no checkpoint expert;
// every data element then differs).
TileComparison compare_tile(const Operands& ops, const LayoutMap& map, std::int64_t d, std::int64_t e,
                            std::int64_t rb, std::int64_t cb);

}  // namespace mxg::diagnose::weights
