// Word counting, stop strings and token limits applied to the stand-in's composed answers.
#include "harness/standin/generation.hpp"

#include <algorithm>

namespace mxg::standin {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The prefix of `text` holding its first `words` words (trailing whitespace after the last excluded).
std::string_view first_words(std::string_view text, std::int64_t words) {
  std::size_t i = 0;
  std::size_t end = 0;
  for (std::int64_t w = 0; w < words; ++w) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    while (i < text.size() && !is_space(text[i])) ++i;
    end = i;
  }
  return text.substr(0, end);
}

}  // namespace

std::int64_t count_words(std::string_view text) {
  std::int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    if (is_space(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++words;
    }
  }
  return words;
}

Completion shape_completion(std::string_view prompt, std::string_view text, std::int64_t limit,
                            const std::vector<std::string>& stops) {
  Completion c;
  c.prompt_tokens = count_words(prompt);
  c.finish.type = FinishReason::Type::Stop;
  c.finish.matched = kNaturalStop;
  std::size_t cut = text.size();
  for (const auto& stop : stops) {
    if (stop.empty()) continue;
    const auto at = text.find(stop);
    if (at != std::string_view::npos && at < cut) {
      cut = at;
      c.finish.matched = stop;
    }
  }
  std::string_view kept = text.substr(0, cut);
  if (limit >= 0 && count_words(kept) > limit) {
    kept = first_words(kept, limit);
    c.finish = FinishReason{FinishReason::Type::Length, "", limit, ""};
  }
  c.text = std::string(kept);
  c.completion_tokens = count_words(c.text);
  return c;
}

Completion truncated_completion(std::string_view prompt, std::string_view text) {
  const std::int64_t words = count_words(text);
  const std::int64_t kept = std::max<std::int64_t>(0, std::min(words / 2, words - 1));
  Completion c;
  c.prompt_tokens = count_words(prompt);
  c.text = std::string(first_words(text, kept));
  c.completion_tokens = kept;
  c.finish = FinishReason{FinishReason::Type::Length, "", kept, ""};
  return c;
}

Completion aborted_completion(std::string_view prompt, std::string message) {
  Completion c;
  c.prompt_tokens = count_words(prompt);
  c.finish = FinishReason{FinishReason::Type::Abort, "", 0, std::move(message)};
  return c;
}

Completion warmup_completion(std::string_view prompt) {
  Completion c;
  c.prompt_tokens = count_words(prompt);
  c.finish = FinishReason{FinishReason::Type::Length, "", 0, ""};
  return c;
}

}  // namespace mxg::standin
