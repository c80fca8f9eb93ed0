// SGLang's few-shot prompt: exact bytes of a 2-shot prompt written out by hand from PROBE.md's rules,
// and asked_question, the inverse the stand-in server uses.
#include "harness/probe/prompt.hpp"

#include <gtest/gtest.h>

#include "harness/probe/gsm8k_synth.hpp"

namespace mxg::probe {
namespace {

const Gsm8kItem kShotOne{"What is 2+3?", "2+3=<<2+3=5>>5\n#### 5", 1};
const Gsm8kItem kShotTwo{"Zo\xC3\xAB has 4 \xE2\x82\xAC. How many?", "She has 4.\n#### 4", 2};
const Gsm8kItem kAsked{"How many legs do 3 cats have?", "3*4=<<3*4=12>>12\n#### 12", 3};

TEST(Prompt, TwoShotPromptExactBytes) {
  // PROBE.md: example = "Question: " + q + "\nAnswer:"; a shot adds " " + answer and is followed by
  // "\n\n"; the prompt is the shots then the asked question's example. Written out literally:
  const std::string expected =
      "Question: What is 2+3?\nAnswer: 2+3=<<2+3=5>>5\n#### 5\n\n"
      "Question: Zo\xC3\xAB has 4 \xE2\x82\xAC. How many?\nAnswer: She has 4.\n#### 4\n\n"
      "Question: How many legs do 3 cats have?\nAnswer:";
  const std::vector<Gsm8kItem> shots{kShotOne, kShotTwo};
  EXPECT_EQ(question_prompt(few_shot_prefix(shots), kAsked), expected);
}

TEST(Prompt, ExampleWithAndWithoutAnswer) {
  EXPECT_EQ(format_example(kShotOne, false), "Question: What is 2+3?\nAnswer:");
  EXPECT_EQ(format_example(kShotOne, true), "Question: What is 2+3?\nAnswer: 2+3=<<2+3=5>>5\n#### 5");
}

TEST(Prompt, ZeroShotsIsJustTheQuestion) {
  EXPECT_EQ(few_shot_prefix({}), "");
  EXPECT_EQ(question_prompt("", kAsked), "Question: How many legs do 3 cats have?\nAnswer:");
}

TEST(AskedQuestion, RoundTripsGeneratedPrompts) {
  const auto items = generate_gsm8k(60, 7);
  const std::span<const Gsm8kItem> shots(items.data(), 5);
  const std::string prefix = few_shot_prefix(shots);
  for (const Gsm8kItem& item : items) {  // the shots themselves are asked too, as in SGLang's CI
    EXPECT_EQ(asked_question(question_prompt(prefix, item)), item.question);
  }
}

TEST(AskedQuestion, ToleratesTrailingWhitespace) {
  EXPECT_EQ(asked_question("Question: q?\nAnswer: \n"), "q?");
}

TEST(AskedQuestion, KeepsAQuestionThatQuotesTheTag) {
  const Gsm8kItem odd{"Read this. Question: is 2 > 1?", "#### 1", 0};
  const std::vector<Gsm8kItem> shots{kShotOne};
  EXPECT_EQ(asked_question(question_prompt(few_shot_prefix(shots), odd)), odd.question);
  EXPECT_EQ(asked_question(question_prompt("", odd)), odd.question);
}

TEST(AskedQuestion, NoQuestionTail) {
  EXPECT_EQ(asked_question(""), std::nullopt);
  EXPECT_EQ(asked_question("Question: q?\nAnswer: 42"), std::nullopt);  // a completed example
  EXPECT_EQ(asked_question("Just some text\nAnswer:"), std::nullopt);   // no "Question: "
  EXPECT_EQ(asked_question("Question: q?"), std::nullopt);
}

}  // namespace
}  // namespace mxg::probe
