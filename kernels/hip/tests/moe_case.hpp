// Test inputs for the GPU kernels: one MoE layer in the checkpoint's own row order (gate/up rows
// interleaved, LAYOUTS.md §2), already padded to the device shape the way the loader pads it, with
// seeded random weights, poisoned padding, and routing that includes a hot expert (spanning several
// row tiles) and an expert with no tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mxg::gpu::testing {

struct MoeCaseSpec {
  std::string name;
  std::int64_t experts = 0, topk = 0, tokens = 0;
  std::int64_t hidden = 0, hidden_padded = 0;  // H (present inputs), H_p
  // Units the loader filled (the rest of I_p is zero) and the stated padding; units at or past
  // intermediate_padded - intermediate_pad are absent to the kernel even where they were loaded.
  std::int64_t units_loaded = 0, intermediate_padded = 0, intermediate_pad = 0;
  std::int64_t hot_tokens = 0;  // tokens whose slot 0 is expert 0
  std::uint64_t seed = 0;

  std::int64_t hidden_pad() const { return hidden_padded - hidden; }
  std::int64_t units_present() const { return intermediate_padded - intermediate_pad; }
};

// Checkpoint-order layer. Row r of w13 is gate (r even) or up (r odd) of unit r / 2.
struct CanonicalMoe {
  MoeCaseSpec spec;
  std::vector<std::uint8_t> w13;        // [E, 2*I_p, H_p/2]
  std::vector<std::uint8_t> w13_scale;  // [E, 2*I_p, H_p/32]
  std::vector<float> w13_bias;          // [E, 2*I_p], checkpoint order
  std::vector<std::uint8_t> w2;         // [E, H_p, I_p/2]
  std::vector<std::uint8_t> w2_scale;   // [E, H_p, I_p/32]
  std::vector<float> w2_bias;           // [E, H_p]
  std::vector<std::uint16_t> hidden;    // bf16 [T, H_p]; absent inputs hold NaN
  std::vector<std::int32_t> topk_ids;   // [T, k], distinct per token, never expert E-1
  std::vector<float> topk_weights;      // [T, k], positive, summing to 1 per token
};

CanonicalMoe make_case(const MoeCaseSpec& spec);

}  // namespace mxg::gpu::testing
