// The texts and their shaping: correct answers extract to the label under every extractor, wrong ones
// never do, non-answers have no number, degenerate ones are detected; word counts, token limits, stop
// strings; the three request shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>

#include "harness/probe/extract.hpp"
#include "harness/probe/gsm8k_synth.hpp"
#include "harness/standin/answer_writer.hpp"
#include "harness/standin/generation.hpp"
#include "harness/standin/request_parse.hpp"
#include "harness/standin/tests/standin_fixture.hpp"

namespace mxg::standin {
namespace {

using probe::Extractor;
using probe::extract_prediction;
using probe::reference_label;

const std::vector<probe::Gsm8kItem>& items() {
  static const auto data = probe::generate_gsm8k(400, 11);
  return data;
}

// SGLang's rule written out here on purpose: drop ',', the last run of digits.
std::optional<std::string> last_integer(const std::string& text) {
  std::string plain;
  std::copy_if(text.begin(), text.end(), std::back_inserter(plain), [](char c) { return c != ','; });
  static const std::regex digits("[0-9]+");
  std::optional<std::string> last;
  for (auto it = std::sregex_iterator(plain.begin(), plain.end(), digits); it != std::sregex_iterator(); ++it) {
    std::string d = it->str();
    d.erase(0, std::min(d.find_first_not_of('0'), d.size() - 1));
    last = d;
  }
  return last;
}

TEST(AnswerWriter, CorrectAnswersExtractToTheLabel) {
  for (const auto& item : items()) {
    const std::string text = write_answer(AnswerKind::Correct, 3, item);
    for (Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
      EXPECT_EQ(extract_prediction(e, text), reference_label(e, item.answer))
          << probe::extractor_name(e) << "\n" << text << "\nlabel " << item.answer;
    }
    EXPECT_EQ(last_integer(text), last_integer(raw_label(item.answer)));
    // The last line is the label exactly as the dataset writes it.
    EXPECT_EQ(text.substr(text.rfind('\n') + 1), "#### " + raw_label(item.answer));
    EXPECT_EQ(text.find("Question"), std::string::npos);
  }
}

TEST(AnswerWriter, WrongNumbersNeverExtractToTheLabel) {
  for (const auto& item : items()) {
    const std::string text = write_answer(AnswerKind::WrongNumber, 3, item);
    for (Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
      const auto prediction = extract_prediction(e, text);
      ASSERT_TRUE(prediction.has_value()) << text;
      EXPECT_NE(*prediction, reference_label(e, item.answer)) << probe::extractor_name(e) << "\n" << text;
    }
    EXPECT_NE(last_integer(text), last_integer(raw_label(item.answer)));
    EXPECT_EQ(text.find("Question"), std::string::npos);
  }
}

TEST(AnswerWriter, NonAnswersCarryNoUsableNumber) {
  for (const auto& item : items()) {
    for (AnswerKind k : {AnswerKind::Rambling, AnswerKind::Repetition, AnswerKind::Unknown}) {
      const std::string text = write_answer(k, 5, item);
      EXPECT_FALSE(extract_prediction(Extractor::Sglang, text).has_value()) << text;
      EXPECT_EQ(text.find_first_of("0123456789"), std::string::npos) << text;
      EXPECT_FALSE(text.empty());
    }
    const std::string soup = write_answer(AnswerKind::DigitSoup, 5, item);
    EXPECT_TRUE(probe::is_degenerate(soup)) << soup;
    EXPECT_NE(extract_prediction(Extractor::Sglang, soup), reference_label(Extractor::Sglang, item.answer)) << soup;
    EXPECT_TRUE(probe::is_degenerate(write_answer(AnswerKind::Repetition, 5, item)));
    EXPECT_FALSE(probe::is_degenerate(write_answer(AnswerKind::Correct, 5, item)));
  }
}

TEST(AnswerWriter, WrongKindsFollowTheirShares) {
  std::map<AnswerKind, int> counts;
  const int n = 4000;
  for (int i = 0; i < n; ++i) ++counts[wrong_kind(9, "question " + std::to_string(i))];
  // Shares 0.70 / 0.20 / 0.05 / 0.05; bounds at five binomial standard deviations.
  const auto within = [n](int observed, double p) {
    const double sd = std::sqrt(n * p * (1 - p));
    return std::abs(observed - n * p) < 5 * sd;
  };
  EXPECT_TRUE(within(counts[AnswerKind::WrongNumber], 0.70)) << counts[AnswerKind::WrongNumber];
  EXPECT_TRUE(within(counts[AnswerKind::Rambling], 0.20)) << counts[AnswerKind::Rambling];
  EXPECT_TRUE(within(counts[AnswerKind::DigitSoup], 0.05)) << counts[AnswerKind::DigitSoup];
  EXPECT_TRUE(within(counts[AnswerKind::Repetition], 0.05)) << counts[AnswerKind::Repetition];
}

TEST(AnswerWriter, SameSeedSameText) {
  for (const auto& item : items()) {
    EXPECT_EQ(write_answer(AnswerKind::WrongNumber, 1, item), write_answer(AnswerKind::WrongNumber, 1, item));
  }
}

TEST(AnswerWriter, RawLabelIsTheTextAfterTheMarker) {
  EXPECT_EQ(raw_label("a <<2*3=6>>6\n#### 1,234"), "1,234");
  EXPECT_EQ(raw_label("x\n#### -5 \n"), "-5");
}

TEST(Generation, WordCountMatchesTheStreamExtractor) {
  for (const std::string text : {"", "  ", "one", " two  words ", "a\tb\nc\r\nd", "#### 1,234\n"}) {
    EXPECT_EQ(count_words(text), test::stream_word_count(text)) << '"' << text << '"';
  }
}

TEST(Generation, TokenLimitCutsAndReportsLength) {
  const std::string text = "alpha beta  gamma\ndelta epsilon";
  const auto cut = shape_completion("p q", text, 3, {});
  EXPECT_EQ(cut.text, "alpha beta  gamma");
  EXPECT_EQ(cut.completion_tokens, 3);
  EXPECT_EQ(cut.prompt_tokens, 2);
  EXPECT_EQ(cut.finish.type, FinishReason::Type::Length);
  EXPECT_EQ(cut.finish.length, 3);
  const auto whole = shape_completion("p", text, 5, {});
  EXPECT_EQ(whole.text, text);
  EXPECT_EQ(whole.finish.type, FinishReason::Type::Stop);
  EXPECT_EQ(whole.finish.matched, "Question");
  const auto unlimited = shape_completion("p", text, -1, {});
  EXPECT_EQ(unlimited.completion_tokens, 5);
}

TEST(Generation, StopStringsCutFirst) {
  const auto c = shape_completion("p", "one two STOP three", 100, {"three", "STOP"});
  EXPECT_EQ(c.text, "one two ");
  EXPECT_EQ(c.finish.type, FinishReason::Type::Stop);
  EXPECT_EQ(c.finish.matched, "STOP");
}

TEST(Generation, TruncationKeepsFewerWords) {
  const auto c = truncated_completion("p", "a b c d e f");
  EXPECT_EQ(c.text, "a b c");
  EXPECT_EQ(c.finish.type, FinishReason::Type::Length);
  EXPECT_EQ(c.finish.length, 3);
}

TEST(RequestParse, ThreeShapes) {
  const auto s = parse_generation_request(
      Api::Sglang, R"({"text": "Q", "sampling_params": {"max_new_tokens": 7, "stop": ["Question", "x"]}})");
  EXPECT_EQ(s.prompt, "Q");
  EXPECT_EQ(s.max_tokens, 7);
  EXPECT_EQ(s.stops, (std::vector<std::string>{"Question", "x"}));
  const auto c = parse_generation_request(Api::Completions, R"({"model": "m", "prompt": ["P"], "max_tokens": 3, "stop": "y"})");
  EXPECT_EQ(c.prompt, "P");
  EXPECT_EQ(c.max_tokens, 3);
  EXPECT_EQ(c.stops, std::vector<std::string>{"y"});
  const auto chat = parse_generation_request(
      Api::Chat, R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "first"},
                    {"role": "assistant", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": "last"}]}]})");
  EXPECT_EQ(chat.prompt, "last");
  EXPECT_FALSE(chat.max_tokens.has_value());
  EXPECT_EQ(default_max_tokens(Api::Sglang), 128);
}

TEST(RequestParse, BadRequestsNameTheField) {
  const auto message = [](Api api, const std::string& body) -> std::string {
    try {
      parse_generation_request(api, body);
    } catch (const BadRequest& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(message(Api::Sglang, "{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message(Api::Sglang, R"({"input_ids": [1]})").find("text"), std::string::npos);
  EXPECT_NE(message(Api::Sglang, R"({"text": ["a", "b"]})").find("text"), std::string::npos);
  EXPECT_NE(message(Api::Sglang, R"({"text": "a", "sampling_params": {"max_new_tokens": -1}})").find("max_new_tokens"),
            std::string::npos);
  EXPECT_NE(message(Api::Completions, R"({"max_tokens": 3})").find("prompt"), std::string::npos);
  EXPECT_NE(message(Api::Chat, R"({"messages": []})").find("messages"), std::string::npos);
  EXPECT_NE(message(Api::Chat, R"({"messages": [{"role": "user", "content": 5}]})").find("content"), std::string::npos);
  EXPECT_NE(message(Api::Sglang, "[1, 2]").find("object"), std::string::npos);
}

}  // namespace
}  // namespace mxg::standin
