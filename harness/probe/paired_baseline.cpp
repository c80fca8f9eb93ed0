// Paired McNemar comparison with a baseline probe.jsonl (rules in paired_baseline.hpp).
#include "harness/probe/paired_baseline.hpp"

#include <map>

#include <fmt/format.h>

#include "harness/probe/stats.hpp"
#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe {

void check_baseline_covers(const std::filesystem::path& baseline, const QuestionPlan& plan) {
  const auto loaded = report::load_probe_jsonl(baseline);
  std::map<std::int64_t, const report::ProbeQuestionRecord*> base;
  for (const auto& r : loaded.records) {
    if (r.error.empty()) base[r.index] = &r;
  }
  std::int64_t missing = 0, different = 0;
  std::string first;
  for (const auto& q : plan.questions) {
    const auto it = base.find(q.index);
    const bool absent = it == base.end();
    if (!absent && it->second->prompt_hash == q.prompt_hash && it->second->label == q.label) continue;
    (absent ? missing : different) += 1;
    if (first.empty()) {
      first = fmt::format("question {} (line {}) {}", q.index, q.line,
                          absent ? "has no answer there" : "was asked with another prompt or label");
    }
  }
  if (missing + different > 0) {
    throw InputError(fmt::format("--baseline {}: the paired test needs the baseline to have answered all {} planned "
                                 "questions with the same prompts; {} missing, {} different (first: {}). Run the "
                                 "baseline with the same --data, --num-questions, --num-shots and --shots-from",
                                 baseline.string(), plan.questions.size(), missing, different, first));
  }
}

report::ProbePairedComparison compare_with_baseline(const std::filesystem::path& baseline,
                                                    const std::vector<report::ProbeQuestionRecord>& current,
                                                    double alpha) {
  const auto loaded = report::load_probe_jsonl(baseline);
  // A resumed baseline can hold a question twice (an error, then its answer): the last answer wins.
  std::map<std::int64_t, const report::ProbeQuestionRecord*> base;
  for (const auto& r : loaded.records) {
    if (r.error.empty()) base[r.index] = &r;
  }
  report::ProbePairedComparison p;
  p.baseline_path = baseline.string();
  p.alpha = alpha;
  std::int64_t hash_mismatch = 0;
  for (const auto& q : current) {
    if (!q.error.empty()) continue;
    const auto it = base.find(q.index);
    if (it == base.end()) continue;
    if (it->second->prompt_hash != q.prompt_hash) {
      ++hash_mismatch;
      continue;
    }
    ++p.paired;
    if (it->second->correct && !q.correct) ++p.baseline_only;
    if (!it->second->correct && q.correct) ++p.candidate_only;
  }
  if (p.paired == 0) {
    throw InputError(fmt::format("--baseline {}: no question answered in both runs with the same prompt ({} of {} "
                                 "indices had a different prompt hash: other data, shots or prompt format?)",
                                 baseline.string(), hash_mismatch, current.size()));
  }
  p.p_value = mcnemar_exact_p(p.baseline_only, p.candidate_only);
  p.regression = p.baseline_only > p.candidate_only && p.p_value < alpha;
  return p;
}

}  // namespace mxg::probe
