// Grouping candidate outputs into explanations and ranking them against the observed output.
#include "harness/diagnose/output/explanations.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reference/metrics.hpp"

namespace mxg::diagnose {

namespace {

std::int64_t nonfinite_mismatches(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_f32(), y = b.to_f32();
  std::int64_t n = 0;
  for (std::size_t i = 0; i < x.size(); ++i) n += std::isfinite(x[i]) != std::isfinite(y[i]);
  return n;
}

}  // namespace

Fit fit_to_observed(const Tensor& y, const Tensor& observed) {
  const ref::ErrorStats s = ref::compare_tensors(y, observed, "candidate output", "observed output");
  return {s.nmse, s.cosine, nonfinite_mismatches(y, observed)};
}

bool same_output(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype() && a.shape() == b.shape() && a.same_bytes(b)) return true;
  if (nonfinite_mismatches(a, b) != 0) return false;
  const ref::ErrorStats s = ref::compare_tensors(a, b, "candidate output", "candidate output");
  return s.nmse < kSameOutputNmse;
}

std::string_view consistency_name(Consistency c) {
  switch (c) {
    case Consistency::Consistent: return "consistent";
    case Consistency::Inconsistent: return "inconsistent";
    case Consistency::Mixed: return "mixed";
  }
  return "?";
}

std::string_view finding_name(Finding f) {
  switch (f) {
    case Finding::Healthy: return "HEALTHY";
    case Finding::Bug: return "BUG";
    case Finding::Unexplained: return "UNEXPLAINED";
  }
  return "?";
}

int Diagnosis::exit_code() const { return finding == Finding::Healthy ? exit_code::kPass : exit_code::kRegression; }

Diagnosis rank_explanations(const CandidateSet& set, const Tensor& observed, const RankingOptions& options) {
  if (set.candidates.empty()) throw InputError("no combination to rank: the selection is empty");
  const Shape& shape = set.outputs.front().shape();
  if (observed.shape() != shape) {
    throw InputError(fmt::format("observed output: shape {}, the candidates' outputs are {}",
                                 shape_string(observed.shape()), shape_string(shape)));
  }

  // Group the outputs: each joins the first group whose representative it equals.
  std::vector<std::size_t> group_of(set.outputs.size());
  std::vector<std::size_t> representatives;
  for (std::size_t i = 0; i < set.outputs.size(); ++i) {
    const auto it = std::ranges::find_if(
        representatives, [&](std::size_t rep) { return same_output(set.outputs[i], set.outputs[rep]); });
    group_of[i] = static_cast<std::size_t>(it - representatives.begin());
    if (it == representatives.end()) representatives.push_back(i);
  }

  Diagnosis d;
  d.options = options;
  std::vector<Explanation> groups(representatives.size());
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].fit = fit_to_observed(set.outputs[representatives[g]], observed);
  std::vector<bool> any_consistent(groups.size(), false), any_inconsistent(groups.size(), false);
  for (std::size_t c = 0; c < set.candidates.size(); ++c) {
    const Candidate& cand = set.candidates[c];
    const std::size_t g = group_of[cand.output];
    Explanation& e = groups[g];
    e.members.push_back(c);
    (cand.consistent ? any_consistent : any_inconsistent)[g] = true;
    if (!cand.consistent && e.derivation.empty()) e.derivation = cand.derivation;
    for (const auto& s : cand.scenarios) {
      if (std::ranges::find(e.scenarios, s) == e.scenarios.end()) e.scenarios.push_back(s);
    }
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    groups[g].consistency = any_consistent[g] && any_inconsistent[g] ? Consistency::Mixed
                            : any_consistent[g]                      ? Consistency::Consistent
                                                                     : Consistency::Inconsistent;
  }
  // Groups are in order of their first member's output; a stable sort keeps that order on ties.
  // Among equal scores (both +inf: non-finite positions disagree), fewer mismatches, then the
  // NMSE over the finite pairs, NaN last.
  std::ranges::stable_sort(groups, [](const Explanation& a, const Explanation& b) {
    if (a.fit.score() != b.fit.score()) return a.fit.score() < b.fit.score();
    if (a.fit.nonfinite_mismatches != b.fit.nonfinite_mismatches)
      return a.fit.nonfinite_mismatches < b.fit.nonfinite_mismatches;
    if (std::isnan(a.fit.nmse) || std::isnan(b.fit.nmse)) return !std::isnan(a.fit.nmse) && std::isnan(b.fit.nmse);
    return a.fit.nmse < b.fit.nmse;
  });
  d.ranked = std::move(groups);

  const double best = d.best().fit.score();
  if (d.ranked.size() > 1) {
    const double runner_up = d.ranked[1].fit.score();
    d.margin = best == 0 ? (runner_up == 0 ? 1.0 : std::numeric_limits<double>::infinity()) : runner_up / best;
    if (std::isinf(best)) d.margin = std::numeric_limits<double>::quiet_NaN();
  }
  d.contenders = static_cast<std::size_t>(std::ranges::count_if(d.ranked, [&](const Explanation& e) {
    return e.fit.score() <= best * options.min_margin || e.fit.score() == best;
  }));
  const bool explained = best <= options.explained_nmse;
  d.ambiguous = explained && !(d.margin >= options.min_margin);
  if (!explained) {
    d.finding = Finding::Unexplained;
  } else {
    // A mixed group's output is what a consistent combination gives: the output is healthy,
    // whatever else could have produced it.
    d.finding = d.best().consistency == Consistency::Inconsistent ? Finding::Bug : Finding::Healthy;
  }
  return d;
}

}  // namespace mxg::diagnose
