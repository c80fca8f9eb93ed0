#include "harness/standin/question_index.hpp"

#include <algorithm>

namespace mxg::standin {
namespace {

constexpr std::string_view kQuestionTag = "Question: ";
constexpr std::string_view kAnswerTag = "\nAnswer:";

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

QuestionIndex::QuestionIndex(const std::vector<std::string>& questions) : questions_(questions) {
  key_lengths_.push_back(kKeyLength);
  for (const std::string& q : questions_) {
    const std::string_view text = q;
    const std::size_t key = std::min(text.size(), kKeyLength);
    by_tail_[text.substr(text.size() - key)].push_back(text);
    if (std::find(key_lengths_.begin(), key_lengths_.end(), key) == key_lengths_.end()) key_lengths_.push_back(key);
  }
}

std::optional<std::string> QuestionIndex::asked_in(std::string_view prompt) const {
  prompt = trim_right(prompt);
  if (!prompt.ends_with(kAnswerTag)) return std::nullopt;
  const std::string_view head = prompt.substr(0, prompt.size() - kAnswerTag.size());
  std::optional<std::string_view> best;
  for (const std::size_t length : key_lengths_) {
    if (length > head.size()) continue;
    const auto it = by_tail_.find(head.substr(head.size() - length));
    if (it == by_tail_.end()) continue;
    for (const std::string_view q : it->second) {
      // The whole question, introduced by the example's tag, must end the prompt's head.
      if (head.size() < q.size() + kQuestionTag.size() || !head.ends_with(q)) continue;
      if (head.substr(0, head.size() - q.size()).ends_with(kQuestionTag) && (!best || q.size() > best->size())) best = q;
    }
  }
  if (!best) return std::nullopt;
  return std::string(*best);
}

std::string QuestionIndex::question_of(std::string_view prompt) const {
  if (auto known = asked_in(prompt)) return *known;
  const std::string_view trimmed = trim_right(prompt);
  if (trimmed.ends_with(kAnswerTag)) {
    const std::string_view head = trimmed.substr(0, trimmed.size() - kAnswerTag.size());
    if (const auto tag = head.rfind(kQuestionTag); tag != std::string_view::npos) {
      return std::string(head.substr(tag + kQuestionTag.size()));
    }
  }
  return std::string(prompt);
}

}  // namespace mxg::standin
