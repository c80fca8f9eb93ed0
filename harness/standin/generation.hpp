// Turning a composed answer into what the server returns: token counts, the request's token limit,
// its stop strings and the finish reason. Tokens are whitespace-separated words: the stand-in has no
// tokenizer, and word counts keep limits and throughput numbers in the right order of magnitude.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::standin {

// Whitespace-separated words (space, tab, newline, CR, FF, VT).
std::int64_t count_words(std::string_view text);

struct FinishReason {
  enum class Type { Stop, Length, Abort };
  Type type = Type::Stop;
  std::string matched;  // Stop: the stop string the text ended at
  std::int64_t length = 0;  // Length: the token limit that cut the text
  std::string message;  // Abort: why
};

struct Completion {
  std::string text;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  FinishReason finish;
};

// The stop string reported for a natural finish: the model would go on with the next few-shot
// example, "Question: ...", and the server cuts there.
inline constexpr std::string_view kNaturalStop = "Question";

// Cuts `text` at the first occurrence of any stop string (finish stop, matched = it), then at the end
// of word number `limit` when it has more words (finish length, length = limit; limit < 0 = none).
// A text that ends by itself finishes with stop "Question".
Completion shape_completion(std::string_view prompt, std::string_view text, std::int64_t limit,
                            const std::vector<std::string>& stops);

// The truncate fault: the first half of the words (at least one fewer than the text has), finish
// length with the number of words kept.
Completion truncated_completion(std::string_view prompt, std::string_view text);

// The abort fault: nothing generated, finish abort with `message`.
Completion aborted_completion(std::string_view prompt, std::string message);

// A warm-up (limit 0): empty text, finish length 0.
Completion warmup_completion(std::string_view prompt);

}  // namespace mxg::standin
