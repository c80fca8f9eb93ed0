// The ggml (llama.cpp) formulas of the GPT-OSS expert conversion, written once: where a checkpoint
// row goes when gate_up is split (and where a buggy split sends it), where element k of a 32-element
// block sits in the checkpoint's packing and in ggml's block_mxfp4, and what a mis-converted scale
// byte becomes. The converter steps (ggml_layout.*), the bug variants (ggml_prep.*) and their
// derivation all call these; index_maps.hpp holds the AITER-side formulas.
#pragma once

#include <cstdint>

#include "kernels/layout/index_maps.hpp"

namespace mxg::layout::ggml {

// block_mxfp4: one E8M0 scale byte, then 16 code bytes, for 32 elements along K.
inline constexpr std::int64_t kBlockElems = 32;
inline constexpr std::int64_t kCodeBytes = 16;
inline constexpr std::int64_t kBlockBytes = 1 + kCodeBytes;

// Bytes of one converted row of K elements (K a multiple of 32).
constexpr std::int64_t row_bytes(std::int64_t k) { return k / kBlockElems * kBlockBytes; }
// Offset, inside a converted row, of block b's scale byte and of its code byte j (0..15).
constexpr std::int64_t scale_offset(std::int64_t block) { return block * kBlockBytes; }
constexpr std::int64_t code_offset(std::int64_t block, std::int64_t j) { return block * kBlockBytes + 1 + j; }

// Where element k (0..31) of a block is stored among its 16 code bytes.
struct NibbleAt {
  std::int64_t byte = 0;
  bool high = false;
  constexpr bool operator==(const NibbleAt&) const = default;
};
// Checkpoint (OCP) packing: element k in byte k/2, the odd element in the high nibble.
constexpr NibbleAt checkpoint_nibble(std::int64_t k) { return {k / 2, k % 2 == 1}; }
constexpr std::int64_t checkpoint_element(NibbleAt at) { return 2 * at.byte + (at.high ? 1 : 0); }
// ggml's block_mxfp4: element k in byte k % 16, the second half of the block in the high nibble.
constexpr NibbleAt ggml_nibble(std::int64_t k) { return {k % kCodeBytes, k >= kCodeBytes}; }
constexpr std::int64_t ggml_element(NibbleAt at) { return at.byte + (at.high ? kCodeBytes : 0); }

// How the 2I interleaved gate_up rows (g0, u0, g1, u1, ...) are cut into a gate and an up tensor.
enum class GateUpSplit : std::uint8_t {
  right,    // gate = rows[0::2], up = rows[1::2] (llama.cpp's converter)
  swapped,  // gate = rows[1::2], up = rows[0::2]
  halves,   // gate = rows[:I], up = rows[I:]: the rows taken as [gate | up] although still interleaved
};
enum class GateUpHalf : std::uint8_t { gate = 0, up = 1 };

// The checkpoint row (of `rows` = 2I) that becomes row j of the gate or up tensor under `split`.
// `right` is interleave_row of the [gate | up] row half*I + j (LAYOUTS.md §5).
constexpr std::int64_t gate_up_source_row(GateUpSplit split, GateUpHalf half, std::int64_t j, std::int64_t rows) {
  const std::int64_t h = static_cast<std::int64_t>(half);
  switch (split) {
    case GateUpSplit::right:
      return interleave_row(h * (rows / 2) + j, rows);
    case GateUpSplit::swapped:
      return interleave_row((1 - h) * (rows / 2) + j, rows);
    case GateUpSplit::halves:
      break;
  }
  return h * (rows / 2) + j;
}

// What happens to each E8M0 scale byte on its way into block_mxfp4. ggml decodes codes with a
// doubled E2M1 table and the scale as 2^(e-128) (half the E8M0 value), so the byte is copied
// unchanged; a converter that misapplies that convention moves the exponent by one. The byte
// arithmetic wraps like uint8 tensor arithmetic (0 - 1 = 255, 255 + 1 = 0).
enum class ScaleByte : std::uint8_t {
  right,    // e
  halved,   // e - 1: every value of the block halves (the halving applied a second time)
  doubled,  // e + 1: every value doubles (compensating for a halving ggml does not need undone)
};
constexpr std::uint8_t converted_scale_byte(std::uint8_t e, ScaleByte s) {
  switch (s) {
    case ScaleByte::right:
      break;
    case ScaleByte::halved:
      return static_cast<std::uint8_t>(e - 1);
    case ScaleByte::doubled:
      return static_cast<std::uint8_t>(e + 1);
  }
  return e;
}

}  // namespace mxg::layout::ggml
