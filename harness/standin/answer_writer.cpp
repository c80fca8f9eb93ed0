// The response texts of the stand-in model. Every choice comes from draws.hpp, so texts repeat per seed.
#include "harness/standin/answer_writer.hpp"

#include <array>
#include <cctype>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "harness/standin/draws.hpp"

namespace mxg::standin {
namespace {

constexpr std::array<std::string_view, 6> kOpeners = {
    "Let's work through it step by step.", "We can solve this one step at a time.",
    "First, write down what we know.",    "Break the problem into parts.",
    "Start with the quantities given.",   "Follow the numbers in order.",
};

// Digit-free sentences, so a rambling reply has nothing the last-integer rule could pick up.
constexpr std::array<std::string_view, 10> kRambling = {
    "There are several ways to read this problem, and each seems to lead somewhere different.",
    "It depends on what exactly is being counted here, which the wording leaves open.",
    "One could argue that the total changes over time, but that is hard to pin down.",
    "Perhaps the best approach is to think about the situation as a whole first.",
    "The people involved might have had other reasons for their choices.",
    "Without knowing a little more it is difficult to give a firm result.",
    "Let me reconsider the relationship between the amounts mentioned above.",
    "This kind of problem often hides a small trick in the way it is phrased.",
    "On reflection the most reasonable reading is still somewhat unclear.",
    "A careful reader would want to check each assumption again before deciding.",
};

constexpr std::array<std::string_view, 4> kRepeatedFragments = {
    "the total is the", "and then we add", "so the answer so", "of the of the",
};

constexpr std::array<std::string_view, 9> kSoupSymbols = {"==", "+", "((", ")", "-", "*", "/", "0.", "#"};

std::string_view pick(std::uint64_t bits, const auto& choices) { return choices[bits % choices.size()]; }

// The worked lines of a dataset answer: everything before its "####" line.
std::string working_lines(std::string_view answer) {
  const auto marker = answer.rfind("####");
  std::string_view body = answer.substr(0, marker == std::string_view::npos ? answer.size() : marker);
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ' || body.back() == '\r')) body.remove_suffix(1);
  return std::string(body);
}

std::string with_thousands_commas(std::uint64_t magnitude) {
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// label + delta, written the way the dataset writes labels (commas kept if the label had them).
// The delta is skipped when the result would have the label's magnitude, since the SGLang rule drops
// the minus sign and would then count the wrong number as right.
std::string wrong_number(std::string_view label, std::uint64_t bits) {
  std::string digits;
  for (char c : label) {
    if (c != ',') digits += c;
  }
  const long long value = std::strtoll(digits.c_str(), nullptr, 10);
  constexpr std::array<long long, 8> kDeltas = {1, -1, 2, 10, -10, 5, 100, -2};
  long long wrong = value + 3;  // reached only if all eight collide, which no integer allows
  for (std::size_t attempt = 0; attempt < kDeltas.size(); ++attempt) {
    const long long candidate = value + kDeltas[(bits + attempt) % kDeltas.size()];
    if (std::llabs(candidate) != std::llabs(value)) {
      wrong = candidate;
      break;
    }
  }
  const bool commas = label.find(',') != std::string_view::npos;
  const std::uint64_t magnitude = static_cast<std::uint64_t>(std::llabs(wrong));
  return (wrong < 0 ? "-" : "") + (commas ? with_thousands_commas(magnitude) : std::to_string(magnitude));
}

std::string rambling(std::uint64_t key) {
  std::string out;
  const std::size_t sentences = 3 + draw_bits(key, Salt::Wording, 0) % 3;
  for (std::size_t i = 0; i < sentences; ++i) {
    if (i > 0) out += ' ';
    out += pick(draw_bits(key, Salt::Wording, 1 + i), kRambling);
  }
  return out;
}

// Digits and symbols without letters, ending in a number that is not the label's digits.
std::string digit_soup(std::uint64_t key, const std::string& label_digits) {
  std::string out;
  for (std::uint64_t i = 0; i < 40; ++i) {
    const std::uint64_t bits = draw_bits(key, Salt::Wording, i);
    if (bits % 3 == 0) {
      out += pick(bits >> 8, kSoupSymbols);
    } else {
      out += std::to_string((bits >> 8) % 1000);
    }
    out += ' ';
  }
  std::uint64_t last = draw_bits(key, Salt::Wording, 40) % 1000;
  if (std::to_string(last) == label_digits) last += 1;
  out += std::to_string(last);
  return out;
}

// The label's digits alone ("-1,234" -> "1234"): what a reader that drops signs and separators sees.
std::string label_digits(std::string_view label) {
  std::string digits;
  for (char c : label) {
    if (c >= '0' && c <= '9') digits += c;
  }
  return digits;
}

std::string repetition(std::uint64_t key) {
  const std::string_view fragment = pick(draw_bits(key, Salt::Wording, 0), kRepeatedFragments);
  std::string out;
  for (int i = 0; i < 30; ++i) {
    if (i > 0) out += ' ';
    out += fragment;
  }
  return out;
}

// A real server cuts at its stop strings; our own texts must not carry the few-shot one.
std::string without_stop_word(std::string text) {
  for (auto at = text.find("Question"); at != std::string::npos; at = text.find("Question", at)) {
    text[at] = 'q';
  }
  return text;
}

}  // namespace

std::string_view answer_kind_name(AnswerKind k) {
  switch (k) {
    case AnswerKind::Correct: return "correct";
    case AnswerKind::WrongNumber: return "wrong_number";
    case AnswerKind::Rambling: return "rambling";
    case AnswerKind::DigitSoup: return "digit_soup";
    case AnswerKind::Repetition: return "repetition";
    case AnswerKind::Unknown: return "unknown";
  }
  return "unknown";
}

bool is_nonanswer(AnswerKind k) {
  return k == AnswerKind::Rambling || k == AnswerKind::DigitSoup || k == AnswerKind::Repetition;
}

std::string raw_label(std::string_view gsm8k_answer) {
  const auto marker = gsm8k_answer.rfind("####");
  if (marker == std::string_view::npos) return {};
  std::string_view label = gsm8k_answer.substr(marker + 4);
  while (!label.empty() && std::isspace(static_cast<unsigned char>(label.front()))) label.remove_prefix(1);
  while (!label.empty() && std::isspace(static_cast<unsigned char>(label.back()))) label.remove_suffix(1);
  return std::string(label);
}

AnswerKind wrong_kind(std::uint64_t seed, std::string_view question) {
  const double u = draw_unit(text_key(seed, question), Salt::WrongStyle);
  if (u < 0.70) return AnswerKind::WrongNumber;
  if (u < 0.90) return AnswerKind::Rambling;
  if (u < 0.95) return AnswerKind::DigitSoup;
  return AnswerKind::Repetition;
}

std::string write_answer(AnswerKind kind, std::uint64_t seed, const probe::Gsm8kItem& item) {
  const std::uint64_t key = text_key(seed, item.question);
  const std::string_view opener = pick(draw_bits(key, Salt::Wording, 99), kOpeners);
  switch (kind) {
    case AnswerKind::Correct:
      return without_stop_word(fmt::format("{}\n{}\n#### {}", opener, working_lines(item.answer), raw_label(item.answer)));
    case AnswerKind::WrongNumber:
      return without_stop_word(fmt::format("{}\n{}\n#### {}", opener, working_lines(item.answer),
                                           wrong_number(raw_label(item.answer), draw_bits(key, Salt::WrongDelta))));
    case AnswerKind::Rambling: return rambling(key);
    case AnswerKind::DigitSoup:
      return digit_soup(key, label_digits(raw_label(item.answer)));
    case AnswerKind::Repetition: return repetition(key);
    case AnswerKind::Unknown: break;
  }
  return "I do not recognise this problem, so I cannot work out an answer for it. "
         "Please check that the prompt ends with the question being asked.";
}

}  // namespace mxg::standin
