// Which of its known questions a prompt asks, found by the stand-in's own logic.
//
// The stand-in is the probe's test double: it must not read prompts with the probe's own parser
// (harness/probe/prompt.cpp), or a bug there would be mirrored here and never show. What they
// share is only the wire format: a few-shot prompt whose last example is "Question: <q>\nAnswer:".
// The lookup goes the other way round: the stand-in knows every question it can be asked and checks
// which one the prompt ends with (indexed by each question's last characters), preferring the
// longest when one known question is a suffix of another.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mxg::standin {

class QuestionIndex {
 public:
  explicit QuestionIndex(const std::vector<std::string>& questions);
  // The index holds views into its own copy of the questions: neither copied nor moved.
  QuestionIndex(const QuestionIndex&) = delete;
  QuestionIndex& operator=(const QuestionIndex&) = delete;

  // The known question the prompt's last example asks, or nullopt (a prompt of another shape, or a
  // question the stand-in was not given).
  std::optional<std::string> asked_in(std::string_view prompt) const;

  // What the prompt asks, for the stats: the known question if any, else the text after the last
  // "Question: " of a prompt ending in "Answer:", else the whole prompt.
  std::string question_of(std::string_view prompt) const;

 private:
  static constexpr std::size_t kKeyLength = 32;  // questions are indexed by their last 32 characters
  std::unordered_map<std::string_view, std::vector<std::string_view>> by_tail_;
  std::vector<std::size_t> key_lengths_;  // every index key length in use: kKeyLength and shorter questions'
  std::vector<std::string> questions_;      // owns the text the views point into
};

}  // namespace mxg::standin
