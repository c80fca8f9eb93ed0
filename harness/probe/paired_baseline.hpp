// Paired comparison of a probe run with a baseline run on the same questions (pre-merge gating):
// exact McNemar on the questions one run got right and the other wrong.
#pragma once

#include <filesystem>
#include <vector>

#include "harness/probe/question_plan.hpp"
#include "reports/probe_result.hpp"

namespace mxg::probe {

// Pairs questions by index whose prompt hashes agree and that both runs answered (no error).
// Regression: more questions lost than gained (b > c) with p < alpha. A baseline sharing no answered
// question with this run (other data, shots or prompt) -> mxg::InputError naming the file.
// The paired comparison uses exactly the planned questions on both sides: the baseline must hold an
// answer (not an error) for every planned question, with the same prompt hash and label. Otherwise ->
// mxg::InputError naming the file, the first missing or different question, and how many.
void check_baseline_covers(const std::filesystem::path& baseline, const QuestionPlan& plan);

report::ProbePairedComparison compare_with_baseline(const std::filesystem::path& baseline,
                                                    const std::vector<report::ProbeQuestionRecord>& current,
                                                    double alpha);

}  // namespace mxg::probe
