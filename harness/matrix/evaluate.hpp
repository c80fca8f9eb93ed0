// Turns one kernel output into a verdict: non-finite positions first, then the metrics against
// the case's tolerance, then the derived expectation (DESIGN.md verdict table).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor/tensor.hpp"
#include "reports/result.hpp"

namespace mxg::matrix {

struct Measurement {
  report::Metrics metrics;
  bool nonfinite_positions_agree = true;  // NaN/Inf exactly where the reference has them
  bool matches = false;                   // positions agree and every metric within tolerance
  std::string summary;                    // one line: why it matches or not
};

// y: kernel output [T, H] (any float dtype); reference: F32 [T, H].
Measurement measure(const Tensor& y, const Tensor& reference, const report::Tolerance& tol);

report::Verdict verdict_for(bool expected_consistent, bool measured_match);

// Where the error concentrates: (expert, 16-row tile of the hidden output) with the largest share
// of the weighted squared error. `expert_ids` maps materialised experts to model numbers.
std::vector<report::Hotspot> hotspots(const Tensor& y, const Tensor& reference, const Tensor& topk_ids,
                                      const Tensor& topk_weights, const std::vector<std::int64_t>& expert_ids,
                                      std::size_t top);

// The verdict part of a result: measures y against the reference with r.tolerance, then sets
// r.metrics, r.verdict (from r.expected_consistent), r.message and, unless PASS, r.hotspots.
void judge(report::CombinationResult& r, const Tensor& y, const Tensor& reference, const Tensor& topk_ids,
           const Tensor& topk_weights, const std::vector<std::int64_t>& expert_ids);

}  // namespace mxg::matrix
