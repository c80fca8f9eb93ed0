// An independent f32/f64 computation of the ggml-family problem for the tests, and a worst-case
// bound on how far ggml's CPU result may lie from it. The values are plain loops over weights
// decoded from the block_mxfp4 definition with kernels/format's E2M1 and E8M0 codecs; nothing of
// ggml is used. moe_reference.cpp derives the bound.
#pragma once

#include <vector>

#include "kernels/ggml/ggml_experts.hpp"

namespace mxg::ggml_family::testing {

struct ReferenceResult {
  std::vector<double> y;      // [T, H], accumulated in double
  std::vector<double> bound;  // [T, H]: |ggml - y| may not exceed this, element by element
  // [T, H]: the expected (ggml - y)² if every q8_0 rounding error were an independent uniform
  // variable (a model, not a bound): what the NMSE of a correct run should be near.
  std::vector<double> variance;
};

// Works for split and merged experts alike (a merged expert's first I rows are gate).
ReferenceResult reference_moe(const GgmlMoeProblem& problem);

// Largest |x - x'| for any x in a block of 32 whose largest magnitude is at most `amax`, where x'
// is x after ggml's q8_0 quantisation (the form MXFP4 dot products take their activations in).
double q8_0_error(double amax);

struct Agreement {
  double nmse = 0;              // Σ(a - r)² / Σ r²
  double max_err_over_rms = 0;  // max|a - r| / RMS(r)
  double max_err_over_bound = 0;  // max over elements of |a - r| / bound (> 1: outside the bound)
  std::int64_t outside_bound = 0;  // elements with |a - r| > bound (or a non-finite a)
  double predicted_nmse = 0;       // Σ variance / Σ r²
};
Agreement agreement(const Tensor& actual, const ReferenceResult& ref);

}  // namespace mxg::ggml_family::testing
