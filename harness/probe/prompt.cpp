// SGLang's few-shot GSM8K prompt strings (PROBE.md) and their inverse, asked_question.
#include "harness/probe/prompt.hpp"

namespace mxg::probe {
namespace {

constexpr std::string_view kQuestionTag = "Question: ";
constexpr std::string_view kAnswerTag = "\nAnswer:";
constexpr std::string_view kShotSeparator = "\n\n";

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

}  // namespace

std::string format_example(const Gsm8kItem& item, bool with_answer) {
  std::string out;
  out.reserve(kQuestionTag.size() + item.question.size() + kAnswerTag.size() + 1 + item.answer.size());
  out += kQuestionTag;
  out += item.question;
  out += kAnswerTag;
  if (with_answer) {
    out += ' ';
    out += item.answer;
  }
  return out;
}

std::string few_shot_prefix(std::span<const Gsm8kItem> shots) {
  std::string out;
  for (const Gsm8kItem& shot : shots) {
    out += format_example(shot, /*with_answer=*/true);
    out += kShotSeparator;
  }
  return out;
}

std::string question_prompt(std::string_view prefix, const Gsm8kItem& item) {
  std::string out(prefix);
  out += format_example(item, /*with_answer=*/false);
  return out;
}

std::optional<std::string> asked_question(std::string_view prompt) {
  while (!prompt.empty() && is_ascii_space(prompt.back())) prompt.remove_suffix(1);
  if (!prompt.ends_with(kAnswerTag)) return std::nullopt;
  const std::string_view head = prompt.substr(0, prompt.size() - kAnswerTag.size());
  // The last "Question: " that starts an example: at the very start of the prompt or right after a
  // shot's "\n\n". Anchoring keeps a question that itself quotes "Question: " whole; only when no
  // anchored tag exists does the last tag anywhere count.
  std::size_t tag = std::string_view::npos;
  for (std::size_t at = head.rfind(kQuestionTag); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : head.rfind(kQuestionTag, at - 1)) {
    if (at == 0 || head.substr(0, at).ends_with(kShotSeparator)) {
      tag = at;
      break;
    }
  }
  if (tag == std::string_view::npos) tag = head.rfind(kQuestionTag);
  if (tag == std::string_view::npos) return std::nullopt;
  return std::string(head.substr(tag + kQuestionTag.size()));
}

}  // namespace mxg::probe
