// Measurement, verdict and localisation of one combination's output.
#include "harness/matrix/evaluate.hpp"

#include <cmath>

#include <fmt/format.h>

#include "reference/metrics.hpp"

namespace mxg::matrix {

Measurement measure(const Tensor& y, const Tensor& reference, const report::Tolerance& tol) {
  Measurement m;
  if (y.shape() != reference.shape()) {
    m.summary = fmt::format("output shape {} differs from the reference's {}", shape_string(y.shape()),
                            shape_string(reference.shape()));
    m.metrics.nmse = INFINITY;
    m.metrics.max_rel = INFINITY;
    m.metrics.cosine = 0;
    return m;
  }
  const auto stats = ref::compare_tensors(y, reference, "kernel", "reference");
  m.metrics = {stats.nmse, stats.max_rel, stats.cosine, stats.nonfinite_test(), stats.nonfinite_ref()};
  // NaN / Inf first (STYLE.md lesson 6): they must sit exactly where the reference has them
  // (a NaN scale propagates to the rows it feeds); only then do the statistics mean anything.
  std::int64_t first_disagreement = -1;
  if (stats.any_nonfinite()) {
    const auto a = y.to_f32(), b = reference.to_f32();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::isfinite(a[i]) != std::isfinite(b[i])) {
        first_disagreement = static_cast<std::int64_t>(i);
        break;
      }
    }
  }
  m.nonfinite_positions_agree = first_disagreement < 0;
  const std::int64_t h = reference.dim(1);
  if (!m.nonfinite_positions_agree) {
    m.summary = fmt::format("non-finite values differ from the reference's (first at token {}, row {}; kernel {}, "
                            "reference {} non-finite)",
                            first_disagreement / h, first_disagreement % h, stats.nonfinite_test(),
                            stats.nonfinite_ref());
    return m;
  }
  const bool within = stats.nmse <= tol.nmse && stats.max_rel <= tol.max_rel && stats.cosine >= tol.cosine;
  m.matches = within;
  m.summary = fmt::format("nmse {:.3g} (tol {:.3g}), max_rel {:.3g} (tol {:.3g}), cosine {:.6f} (tol {:.6f})",
                          stats.nmse, tol.nmse, stats.max_rel, tol.max_rel, stats.cosine, tol.cosine);
  return m;
}

report::Verdict verdict_for(bool expected_consistent, bool measured_match) {
  using report::Verdict;
  if (expected_consistent) return measured_match ? Verdict::Pass : Verdict::Fail;
  return measured_match ? Verdict::Blind : Verdict::Caught;
}

std::vector<report::Hotspot> hotspots(const Tensor& y, const Tensor& reference, const Tensor& topk_ids,
                                      const Tensor& topk_weights, const std::vector<std::int64_t>& expert_ids,
                                      std::size_t top) {
  if (y.shape() != reference.shape()) return {};
  ref::Routing routing;
  routing.tokens = topk_ids.dim(0);
  routing.topk = topk_ids.dim(1);
  const auto ids = topk_ids.as<std::int32_t>();
  routing.ids.assign(ids.begin(), ids.end());
  for (float w : topk_weights.as<float>()) routing.weights.push_back(w);
  const auto attribution = ref::attribute_error(y, reference, routing, static_cast<std::int64_t>(top));
  std::vector<report::Hotspot> out;
  for (const auto& t : attribution.tiles) {
    const auto model_expert = t.expert < static_cast<std::int64_t>(expert_ids.size())
                                  ? expert_ids[static_cast<std::size_t>(t.expert)]
                                  : t.expert;
    out.push_back({model_expert, t.tile, t.share});
  }
  return out;
}

void judge(report::CombinationResult& r, const Tensor& y, const Tensor& reference, const Tensor& topk_ids,
           const Tensor& topk_weights, const std::vector<std::int64_t>& expert_ids) {
  const Measurement m = measure(y, reference, r.tolerance);
  r.metrics = m.metrics;
  r.verdict = verdict_for(r.expected_consistent, m.matches);
  r.message = m.summary;
  if (r.verdict != report::Verdict::Pass) r.hotspots = hotspots(y, reference, topk_ids, topk_weights, expert_ids, 3);
}

}  // namespace mxg::matrix
