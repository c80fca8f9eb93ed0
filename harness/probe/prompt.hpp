// SGLang's few-shot GSM8K prompt (PROBE.md): the exact strings sent, and the inverse the stand-in
// server uses to find which question a prompt asks.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "harness/probe/gsm8k.hpp"

namespace mxg::probe {

// "Question: " + question + "\nAnswer:" and, with the answer, + " " + answer.
std::string format_example(const Gsm8kItem& item, bool with_answer);

// Each shot formatted with its answer and followed by "\n\n", concatenated.
std::string few_shot_prefix(std::span<const Gsm8kItem> shots);

// prefix + format_example(item, false): the full prompt for one scored question.
std::string question_prompt(std::string_view prefix, const Gsm8kItem& item);

// The question a prompt asks: the text between the last "Question: " and the "\nAnswer:" that ends
// the prompt (trailing whitespace after "Answer:" tolerated). nullopt when the prompt has no such tail.
std::optional<std::string> asked_question(std::string_view prompt);

}  // namespace mxg::probe
