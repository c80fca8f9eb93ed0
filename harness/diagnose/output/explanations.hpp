// Ranking candidate explanations of an observed output. Combinations whose outputs are the same
// (bit for bit, or NMSE between them below 1e-12 with non-finite values in the same places) form
// ONE explanation listing every member: the data cannot tell them apart, so the ranking never
// claims it can.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "harness/diagnose/output/candidate_runs.hpp"

namespace mxg::diagnose {

inline constexpr double kSameOutputNmse = 1e-12;

// How well a candidate output y reproduces the observed output o (both [T, H], any float dtype).
struct Fit {
  double nmse = 0;     // sum (y-o)^2 / sum o^2 over positions where both are finite
  double cosine = 1;
  std::int64_t nonfinite_mismatches = 0;  // positions finite on one side only
  // What the ranking sorts by: nmse when the non-finite positions agree, else +inf.
  double score() const {
    return nonfinite_mismatches == 0 && nmse == nmse ? nmse : std::numeric_limits<double>::infinity();
  }
};
Fit fit_to_observed(const Tensor& y, const Tensor& observed);

// The relation that groups outputs into one explanation (see above).
bool same_output(const Tensor& a, const Tensor& b);

enum class Consistency { Consistent, Inconsistent, Mixed };
std::string_view consistency_name(Consistency c);  // "consistent" | "inconsistent" | "mixed"

struct Explanation {
  std::vector<std::size_t> members;  // indices into CandidateSet::candidates, in their order
  Consistency consistency = Consistency::Consistent;
  std::vector<std::string> scenarios;  // realised by any member
  std::string derivation;              // the first inconsistent member's reason
  Fit fit;
};

enum class Finding {
  Healthy,      // the best explanation is consistent: the layer output is what a correct stack gives
  Bug,          // the best explanation is an inconsistent combination
  Unexplained,  // no combination reproduces the observed output
};
std::string_view finding_name(Finding f);  // "HEALTHY" | "BUG" | "UNEXPLAINED"

struct RankingOptions {
  double explained_nmse = 1e-2;  // the best explains the output only at or below this NMSE
  double min_margin = 10;        // runner-up NMSE / best NMSE below this: ambiguous
};

struct Diagnosis {
  std::vector<Explanation> ranked;  // best first
  Finding finding = Finding::Unexplained;
  // runner-up score / best score: +inf when the best is exact and the runner-up is not, or when
  // there is no runner-up; NaN when neither reproduces the non-finite positions.
  double margin = std::numeric_limits<double>::infinity();
  bool ambiguous = false;            // margin < min_margin (only meaningful when explained)
  std::size_t contenders = 1;        // explanations whose score is within min_margin of the best
  RankingOptions options;

  const Explanation& best() const { return ranked.front(); }
  // 0 healthy, 1 bug or unexplained (DESIGN.md exit codes).
  int exit_code() const;
};

// InputError when the observed output's shape is not the candidates' [T, H] (callers check first;
// this guards the library). Ties in score keep the candidates' order.
Diagnosis rank_explanations(const CandidateSet& set, const Tensor& observed, const RankingOptions& options);

}  // namespace mxg::diagnose
