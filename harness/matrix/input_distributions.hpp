// The InputDist passes that turn a normal canonical input set into outliers, zero-blocks,
// extreme-scales or nan-scale inputs, and the scale exponent rule they share with the generator.
// Each pass has its own seeded stream, so the normal bytes underneath stay the same.
// cases/README.md ("Inputs") derives the constants.
#pragma once

#include <cstdint>

#include "harness/matrix/canonical_inputs.hpp"

namespace mxg::matrix {

// Mean of v² over the 16 E2M1 codes drawn uniformly: 2·(0 + 0.25 + 1 + 2.25 + 4 + 9 + 16 + 36)/16.
inline constexpr double kE2M1MeanSquare = 137.0 / 16.0;

// Unbiased E8M0 exponent X of a K-long row of uniformly random codes, chosen so that the row's
// dot product with unit-variance inputs has standard deviation of order 1:
// X = -round(log2(sqrt(K · E[v²]))). Computed with exact comparisons (no libm).
int base_scale_exponent(std::int64_t k);

// Ordinary scale bytes are 127 + X + j with jitter j in {-1, 0, 0, +1}.
inline constexpr int kScaleJitter = 1;

void apply_outliers(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed);
void apply_zero_blocks(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed);
void apply_extreme_scales(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed);
void apply_nan_scale(CanonicalInputs& in, const ShapeSpec& shape, std::uint64_t seed);

// Shifts of the extreme-scales pass (binades), exposed for tests: gate_up blocks move by
// -D, 0 or +D with the hidden block scaled by 2^-shift; down_proj scales and bias move by
// +kExtremeDownShift for even seeds and -kExtremeDownShift for odd ones.
int extreme_gate_up_shift(std::int64_t hidden);
inline constexpr int kExtremeDownShift = 100;

}  // namespace mxg::matrix
