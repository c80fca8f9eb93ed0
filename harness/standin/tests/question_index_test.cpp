// The stand-in finds the asked question by its own logic (harness/standin/question_index.cpp), not
// with the probe's prompt parser. Prompts here are written out by hand in the wire format.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/standin/question_index.hpp"

namespace mxg::standin {
namespace {

const std::vector<std::string> kQuestions = {
    "Tom has 3 apples and buys 4 more. How many apples does Tom have now?",
    "How many?",                                       // short: shorter than the index key
    "A shop sells pens. How many?",                    // ends with another known question
    "She read: \"Question: what is 2+2?\" What did she answer?",  // quotes the example tag
};

std::string example(const std::string& q, const std::string& a) { return "Question: " + q + "\nAnswer: " + a; }

TEST(QuestionIndex, FindsTheLastExamplesQuestionAfterFewShots) {
  const QuestionIndex index(kQuestions);
  const std::string prompt = example("What is 1+1?", "2\n#### 2") + "\n\n" + example("Pick 7.", "#### 7") + "\n\n" +
                             "Question: " + kQuestions[0] + "\nAnswer:";
  EXPECT_EQ(index.asked_in(prompt), kQuestions[0]);
  EXPECT_EQ(index.asked_in(prompt + "  \n"), kQuestions[0]);  // trailing whitespace is not part of the shape
}

TEST(QuestionIndex, PrefersTheLongestKnownQuestionThatEndsThePrompt) {
  const QuestionIndex index(kQuestions);
  EXPECT_EQ(index.asked_in("Question: " + kQuestions[2] + "\nAnswer:"), kQuestions[2]);
  EXPECT_EQ(index.asked_in("Question: " + kQuestions[1] + "\nAnswer:"), kQuestions[1]);
}

TEST(QuestionIndex, KeepsAQuestionThatQuotesTheTagWhole) {
  const QuestionIndex index(kQuestions);
  EXPECT_EQ(index.asked_in(example("Pick 7.", "#### 7") + "\n\nQuestion: " + kQuestions[3] + "\nAnswer:"), kQuestions[3]);
}

TEST(QuestionIndex, UnknownQuestionsAndOtherShapesFindNothing) {
  const QuestionIndex index(kQuestions);
  EXPECT_EQ(index.asked_in("Question: How many cats?\nAnswer:"), std::nullopt);
  EXPECT_EQ(index.asked_in(kQuestions[0]), std::nullopt);                          // no example shape
  EXPECT_EQ(index.asked_in("Question: " + kQuestions[0] + "\nAnswer: 7"), std::nullopt);  // already answered
  EXPECT_EQ(index.asked_in("Question:" + kQuestions[0] + "\nAnswer:"), std::nullopt);    // tag without its space
  EXPECT_EQ(index.asked_in(""), std::nullopt);
  EXPECT_EQ(QuestionIndex({}).asked_in("Question: x\nAnswer:"), std::nullopt);
}

TEST(QuestionIndex, QuestionOfNamesUnknownQuestionsForTheStats) {
  const QuestionIndex index(kQuestions);
  EXPECT_EQ(index.question_of("Question: " + kQuestions[0] + "\nAnswer:"), kQuestions[0]);
  EXPECT_EQ(index.question_of(example("Pick 7.", "#### 7") + "\n\nQuestion: How many cats?\nAnswer: "), "How many cats?");
  EXPECT_EQ(index.question_of("no example shape"), "no example shape");
}

}  // namespace
}  // namespace mxg::standin
