// Test fixture: small random MoE layers in the canonical (checkpoint) layout, and an independent
// fp64 scalar computation of the MoE from that layout (plain loops, LAYOUTS.md §2–§3).
#pragma once

#include <cstdint>
#include <vector>

namespace mxg::testing {

struct MoeShape {
  std::int64_t experts = 8;
  std::int64_t hidden = 96;           // H: real inputs (multiple of 32)
  std::int64_t hidden_padded = 128;   // H_p
  std::int64_t units = 64;            // units loaded from the checkpoint slice (multiple of 32)
  std::int64_t intermediate_padded = 64;  // I_p
  std::int64_t topk = 2;
  std::int64_t tokens = 7;
};

// Checkpoint layout, row-major, no padding. w13 rows interleave gate/up (row 2j gate unit j,
// row 2j+1 up unit j); all floats are bf16-representable.
struct CanonicalMoe {
  MoeShape shape;
  std::vector<std::uint8_t> w13;        // [E][2I][H/2]
  std::vector<std::uint8_t> w13_scale;  // [E][2I][H/32]
  std::vector<float> w13_bias;          // [E][2I]
  std::vector<std::uint8_t> w2;         // [E][H][I/2]
  std::vector<std::uint8_t> w2_scale;   // [E][H][I/32]
  std::vector<float> w2_bias;           // [E][H]
  std::vector<float> hidden;            // [T][H]
  std::vector<std::int32_t> topk_ids;   // [T][k], distinct experts per token
  std::vector<float> topk_weights;      // [T][k], softmax of random logits
};

// Seeded random layer: E2M1 codes uniform, E8M0 scales 2^-6..2^-2 (pre-activations of a few units,
// so the clamp at 7 is sometimes active), biases and inputs normal.
CanonicalMoe make_canonical(const MoeShape& shape, std::uint64_t seed);

// What one kernel run should compute from the canonical layer: the units in [unit_begin,
// unit_end) (one TP rank's slice, minus any a kernel skips), the down-proj bias or not (TP ranks
// other than 0 have it zeroed).
struct Expectation {
  std::int64_t unit_begin = 0, unit_end = 0;
  bool down_bias = true;
  double swiglu_limit = 7.0, alpha = 1.702;
};

// y [T][H] in fp64.
std::vector<double> expected_output(const CanonicalMoe& m, const Expectation& what);
// Units [0, units_used) contribute (a kernel told to skip the others), with the down bias.
std::vector<double> expected_output(const CanonicalMoe& m, std::int64_t units_used, double swiglu_limit = 7.0,
                                    double alpha = 1.702);

// ||y - r||^2 / ||r||^2.
double nmse(const std::vector<double>& y, const std::vector<double>& r);

}  // namespace mxg::testing
