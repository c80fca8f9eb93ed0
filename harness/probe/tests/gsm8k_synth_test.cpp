// Generated GSM8K data: parses back through the JSONL round trip, every label and every calculator
// annotation equals the arithmetic recomputed here from the question text, and the set is
// distinct, deterministic and as varied as the header promises.
#include "harness/probe/gsm8k_synth.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "harness/probe/extract.hpp"

namespace mxg::probe {
namespace {

// The true answer of a generated question, recomputed from its text by template-specific patterns
// (independent of the generator's own arithmetic). nullopt = no template matched.
std::optional<long long> truth_from_question(const std::string& q) {
  std::smatch m;
  const auto n = [&](int i) { return std::stoll(m[i].str()); };
  if (std::regex_search(q, m, std::regex("has (\\d+) \\w+ and buys (\\d+) bags of (\\d+) \\w+ each\\."))) {
    return n(1) + n(2) * n(3);
  }
  if (std::regex_search(q, m, std::regex("sells (\\d+) cups of coffee a day at \xE2\x82\xAC(\\d+) each\\. .* over (\\d+) days"))) {
    return n(1) * n(2) * n(3);
  }
  if (std::regex_search(q, m, std::regex("was (-?\\d+) degrees\\. It fell by (\\d+) degrees every hour for (\\d+) hours"))) {
    return n(1) - n(2) * n(3);
  }
  if (std::regex_search(q, m, std::regex("baked (\\d+) cookies and shared them equally among (\\d+) friends\\. Each "
                                         "friend then ate (\\d+)"))) {
    EXPECT_EQ(n(1) % n(2), 0) << q;
    return n(1) / n(2) - n(3);
  }
  if (std::regex_search(q, m, std::regex("makes (\\d+) widgets per shift and runs (\\d+) shifts a day, (\\d+) days a "
                                         "week\\. How many widgets does it make in (\\d+) weeks"))) {
    return n(1) * n(2) * n(3) * n(4);
  }
  return std::nullopt;
}

// Thousands commas, built from the right in groups of three.
std::string with_commas(long long value) {
  long long rest = value < 0 ? -value : value;
  std::string out;
  do {
    const long long group = rest % 1000;
    rest /= 1000;
    std::string digits = std::to_string(group);
    if (rest > 0) digits = std::string(3 - digits.size(), '0') + digits;
    out = out.empty() ? digits : digits + "," + out;
  } while (rest > 0);
  return value < 0 ? "-" + out : out;
}

TEST(Gsm8kSynth, RoundTripsThroughJsonl) {
  const auto items = generate_gsm8k(500, 1);
  ASSERT_EQ(items.size(), 500u);
  const std::string jsonl = to_gsm8k_jsonl(items);
  for (const char c : jsonl) ASSERT_LT(static_cast<unsigned char>(c), 0x80u) << "written as \\uXXXX";
  const auto parsed = parse_gsm8k_jsonl(jsonl, "generated");
  ASSERT_EQ(parsed.size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(parsed[i].question, items[i].question);
    EXPECT_EQ(parsed[i].answer, items[i].answer);
    EXPECT_EQ(parsed[i].line, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(items[i].line, 0);
  }
}

TEST(Gsm8kSynth, LabelsEqualTheArithmeticTruth) {
  for (const Gsm8kItem& item : generate_gsm8k(1000, 2)) {
    const auto truth = truth_from_question(item.question);
    ASSERT_TRUE(truth.has_value()) << item.question;
    const std::string last_line = item.answer.substr(item.answer.rfind('\n') + 1);
    EXPECT_EQ(last_line, "#### " + with_commas(*truth)) << item.answer;
    EXPECT_EQ(reference_label(Extractor::StrictMatch, item.answer), std::to_string(*truth));
    EXPECT_EQ(reference_label(Extractor::FlexibleExtract, item.answer), std::to_string(*truth));
    EXPECT_EQ(reference_label(Extractor::Sglang, item.answer), std::to_string(*truth < 0 ? -*truth : *truth));
  }
}

TEST(Gsm8kSynth, CalculatorAnnotationsAreCorrect) {
  const std::regex annotation("<<(-?\\d+)([-+*/])(\\d+)=(-?\\d+)>>(-?\\d+)");
  int checked = 0;
  for (const Gsm8kItem& item : generate_gsm8k(300, 5)) {
    long long in_item = 0;
    for (auto it = std::sregex_iterator(item.answer.begin(), item.answer.end(), annotation); it != std::sregex_iterator();
         ++it) {
      const long long a = std::stoll((*it)[1].str()), b = std::stoll((*it)[3].str());
      const char op = (*it)[2].str()[0];
      const long long expected = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
      if (op == '/') {
        EXPECT_EQ(a % b, 0) << item.answer;
      }
      EXPECT_EQ(std::stoll((*it)[4].str()), expected) << item.answer;
      EXPECT_EQ((*it)[5].str(), (*it)[4].str()) << "the result is repeated after the annotation";
      ++checked;
      ++in_item;
    }
    EXPECT_EQ(std::count(item.answer.begin(), item.answer.end(), '<'), 2 * in_item)
        << "every annotation matched the pattern: " << item.answer;
  }
  EXPECT_GE(checked, 600);  // at least two per answer
}

TEST(Gsm8kSynth, MixesLabelKindsLikeTheRealSplit) {
  int negative = 0, thousands = 0, small = 0, non_ascii = 0;
  const auto items = generate_gsm8k(400, 9);
  for (const Gsm8kItem& item : items) {
    const long long truth = *truth_from_question(item.question);
    negative += truth < 0;
    thousands += truth >= 1000 || truth <= -1000;
    small += truth >= 0 && truth < 100;
    non_ascii += std::any_of(item.question.begin(), item.question.end(),
                             [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  }
  EXPECT_GE(negative, 4);  // "a few"
  EXPECT_LE(negative, 40);
  EXPECT_GE(thousands, 40);
  EXPECT_GE(small, 40);
  EXPECT_GE(non_ascii, 40);
}

TEST(Gsm8kSynth, QuestionsAreDistinct) {
  const auto items = generate_gsm8k(5000, 4);
  std::set<std::string> questions;
  for (const Gsm8kItem& item : items) questions.insert(item.question);
  EXPECT_EQ(questions.size(), items.size());
}

TEST(Gsm8kSynth, DeterministicPerSizeAndSeed) {
  const auto a = generate_gsm8k(300, 42);
  const auto b = generate_gsm8k(300, 42);
  const auto other_seed = generate_gsm8k(300, 43);
  const auto shorter = generate_gsm8k(100, 42);
  ASSERT_EQ(a.size(), 300u);
  int same_as_other_seed = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].question, b[i].question);
    EXPECT_EQ(a[i].answer, b[i].answer);
    same_as_other_seed += a[i].question == other_seed[i].question;
    if (i < shorter.size()) {
      EXPECT_EQ(shorter[i].question, a[i].question) << "a smaller n is a prefix";
    }
  }
  EXPECT_LT(same_as_other_seed, 5);
  EXPECT_TRUE(generate_gsm8k(0, 42).empty());
}

}  // namespace
}  // namespace mxg::probe
