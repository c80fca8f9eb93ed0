// Agreement with a baseline run (rules in agreement.hpp).
#include "harness/probe/agreement.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe {
namespace {

using report::ProbeDivergence;
using report::ProbeQuestionRecord;
using report::ProbeToken;

constexpr std::size_t kExcerptBytes = 24;

std::size_t first_difference(std::string_view a, std::string_view b) {
  const auto [ia, ib] = std::ranges::mismatch(a, b);
  return static_cast<std::size_t>(ia - a.begin());
}

// Which token was chosen. Usually its own text; but a server that holds text back while it could
// still be the start of a stop string (llama.cpp does) reports that token with an empty text and
// the next one with both texts. The chosen token is then the candidate with the same logprob.
const std::string& chosen_piece(const ProbeToken& t) {
  constexpr double kSameLogprob = 1e-6;
  const auto own = std::ranges::find_if(t.top, [&](const auto& alt) { return alt.first == t.text; });
  if (own != t.top.end() || t.top.empty()) return t.text;
  const auto same = std::ranges::find_if(t.top, [&](const auto& alt) { return std::abs(alt.second - t.logprob) < kSameLogprob; });
  return same != t.top.end() ? same->first : t.text;
}

bool among_top(const std::string& text, const ProbeToken& other, int top_k) {
  const auto n = std::min(other.top.size(), static_cast<std::size_t>(top_k));
  return std::any_of(other.top.begin(), other.top.begin() + static_cast<std::ptrdiff_t>(n),
                     [&](const auto& alt) { return alt.first == text; });
}

// Fills the token position and the closeness verdict from the two token lists.
void judge_tokens(const ProbeQuestionRecord& base, const ProbeQuestionRecord& cur, int top_k, ProbeDivergence& d) {
  const std::size_t n = std::min(base.tokens.size(), cur.tokens.size());
  std::size_t i = 0;
  while (i < n && chosen_piece(base.tokens[i]) == chosen_piece(cur.tokens[i])) ++i;
  d.token = static_cast<std::int64_t>(i);
  // One list a prefix of the other, the texts still different: one side stopped where the other
  // went on; there is no pair of candidates to compare, so it is a divergence.
  if (i == n) return;
  d.close = among_top(chosen_piece(cur.tokens[i]), base.tokens[i], top_k) &&
            among_top(chosen_piece(base.tokens[i]), cur.tokens[i], top_k);
}

ProbeDivergence divergence(const ProbeQuestionRecord& base, const ProbeQuestionRecord& cur, int top_k) {
  ProbeDivergence d;
  d.index = cur.index;
  const std::size_t at = first_difference(base.response, cur.response);
  d.char_offset = static_cast<std::int64_t>(at);
  d.baseline_excerpt = base.response.substr(std::min(at, base.response.size()), kExcerptBytes);
  d.current_excerpt = cur.response.substr(std::min(at, cur.response.size()), kExcerptBytes);
  if (top_k > 0 && !base.tokens.empty() && !cur.tokens.empty()) judge_tokens(base, cur, top_k, d);
  return d;
}

}  // namespace

report::ProbeAgreement compare_agreement(const std::vector<ProbeQuestionRecord>& baseline,
                                         const std::vector<ProbeQuestionRecord>& current, int top_k,
                                         double min_agreement) {
  // A resumed baseline can hold a question twice (an error, then its answer): the last answer wins.
  std::map<std::int64_t, const ProbeQuestionRecord*> base;
  for (const auto& r : baseline)
    if (r.error.empty()) base[r.index] = &r;
  std::map<std::int64_t, const ProbeQuestionRecord*> now;
  for (const auto& r : current)
    if (r.error.empty()) now[r.index] = &r;

  report::ProbeAgreement a;
  a.top_k = top_k;
  a.min_agreement = min_agreement;
  for (const auto& [index, cur] : now) {
    const auto it = base.find(index);
    if (it == base.end() || it->second->prompt_hash != cur->prompt_hash) continue;
    const ProbeQuestionRecord& b = *it->second;
    ++a.compared;
    if (!b.tokens.empty() && !cur->tokens.empty()) ++a.with_logprobs;
    if (b.response == cur->response) {
      ++a.identical;
      continue;
    }
    ProbeDivergence d = divergence(b, *cur, top_k);
    ++(d.close ? a.close : a.diverged);
    a.divergences.push_back(std::move(d));
  }
  if (a.compared > 0) a.agreement = static_cast<double>(a.identical + a.close) / static_cast<double>(a.compared);
  a.disagrees = a.compared > 0 && a.agreement < min_agreement;
  return a;
}

report::ProbeAgreement compare_agreement(const std::filesystem::path& baseline,
                                         const std::vector<ProbeQuestionRecord>& current, int top_k,
                                         double min_agreement) {
  const auto loaded = report::load_probe_jsonl(baseline);
  report::ProbeAgreement a = compare_agreement(loaded.records, current, top_k, min_agreement);
  a.baseline_path = baseline.string();
  if (a.compared == 0) {
    throw InputError(fmt::format("--agree-with {}: no question answered in both runs with the same prompt "
                                 "(other data, shots or prompt format?)",
                                 baseline.string()));
  }
  return a;
}

}  // namespace mxg::probe
