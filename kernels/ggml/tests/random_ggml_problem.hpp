// Seeded random ggml-family problems for the tests: GPT-OSS-like statistics (uniform E2M1 codes,
// scale bytes sized for O(1) dot products, N(0, 1) hidden states, N(0, 0.25) biases, softmax
// routing weights over distinct experts), packed into block_mxfp4 bytes straight from the
// format's definition, and the corruptions a broken converter could produce.
#pragma once

#include <cstdint>

#include "kernels/ggml/ggml_experts.hpp"

namespace mxg::ggml_family::testing {

struct RandomProblemSpec {
  std::int64_t tokens = 4;
  std::int64_t hidden = 64;
  std::int64_t intermediate = 64;
  std::int64_t experts = 4;
  std::int64_t topk = 2;
  std::uint64_t seed = 1;
};

// Split gate / up experts (the converter's output for GPT-OSS).
GgmlMoeProblem random_problem(const RandomProblemSpec& spec);

// The same experts with gate and up merged into gate_up ([gate rows; up rows] per expert).
GgmlExperts merge_gate_up(const GgmlExperts& split);

// Packs `rows` rows of K E2M1 codes (0..15) and K/32 E8M0 scale bytes per row into block_mxfp4
// rows: per block, the scale byte, then 16 bytes whose byte j holds element j (low nibble) and
// element j + 16 (high nibble).
void pack_block_mxfp4(const std::uint8_t* codes, const std::uint8_t* scales, std::int64_t rows, std::int64_t k,
                      std::uint8_t* out);

// Corruptions of one expert's bytes, each a realistic converter or loader bug.
// Gate and up (weights and biases) trade places, as when the converter's [:, ::2] / [:, 1::2] split
// is taken the wrong way round.
void swap_gate_and_up(GgmlExperts& split, std::int64_t expert);
// Swaps the two nibbles of every code byte in one expert's gate (elements j and j + 16 trade places).
void swap_gate_nibbles(GgmlExperts& split, std::int64_t expert);
// Adds `delta` to every scale byte of one expert's down weight (the doubled/halved-scale slip).
void shift_down_scales(GgmlExperts& split, std::int64_t expert, int delta);

}  // namespace mxg::ggml_family::testing
