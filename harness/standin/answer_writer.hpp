// The texts the stand-in "model" writes: a worked solution ending in the right label, a wrong number,
// a rambling non-answer, degenerate output, and the reply to a question it does not know.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "harness/probe/gsm8k.hpp"

namespace mxg::standin {

enum class AnswerKind {
  Correct,      // worked solution, last line "#### <label>" exactly as in the dataset answer
  WrongNumber,  // the same form with label + a nonzero delta (differs even after ',' and '-' are dropped)
  Rambling,     // sentences without a single digit: no number to extract
  DigitSoup,    // degenerate: digits and symbols, no letters; its last number is not the label
  Repetition,   // degenerate: one digit-free fragment repeated
  Unknown,      // the prompt asks no question the server knows: a digit-free refusal
};
std::string_view answer_kind_name(AnswerKind k);
bool is_nonanswer(AnswerKind k);  // Rambling, DigitSoup, Repetition: no usable answer

// The label as written after the last "#### " of a GSM8K answer, trimmed ("1,234", "-5").
std::string raw_label(std::string_view gsm8k_answer);

// How a question is answered wrongly, drawn from (seed, question): 70 % a wrong number, 20 %
// rambling, 5 % digit soup, 5 % repetition (wrong numbers dominate real model errors).
AnswerKind wrong_kind(std::uint64_t seed, std::string_view question);

// The full text for `kind` (Unknown ignores `item`). Deterministic in (seed, item.question, kind).
// Never contains "Question", the few-shot stop string a real server would have cut at.
std::string write_answer(AnswerKind kind, std::uint64_t seed, const probe::Gsm8kItem& item);

}  // namespace mxg::standin
