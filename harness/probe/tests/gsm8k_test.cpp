// GSM8K JSON Lines: parsing, every kind of rejected line (with source:line:field in the message),
// skipped lines, CRLF, the loader, and the writer's exact bytes.
#include "harness/probe/gsm8k.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

// The InputError message parsing `text` raises; fails the test if it parses.
std::string error_of(std::string_view text, const std::string& source = "t.jsonl") {
  try {
    parse_gsm8k_jsonl(text, source);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error: " << text;
  return "";
}

TEST(Gsm8kParse, ReadsFieldsAndLineNumbers) {
  const auto items = parse_gsm8k_jsonl(
      "{\"question\": \"Q one?\", \"answer\": \"1+1=<<1+1=2>>2\\n#### 2\"}\n"
      "{\"answer\": \"#### 1,234\", \"question\": \"Q two?\", \"id\": 7}\n",
      "t.jsonl");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].question, "Q one?");
  EXPECT_EQ(items[0].answer, "1+1=<<1+1=2>>2\n#### 2");
  EXPECT_EQ(items[0].line, 1);
  EXPECT_EQ(items[1].question, "Q two?");  // key order and extra keys do not matter
  EXPECT_EQ(items[1].answer, "#### 1,234");
  EXPECT_EQ(items[1].line, 2);
}

TEST(Gsm8kParse, SkipsCommentAndBlankLinesButCountsThem) {
  const auto items = parse_gsm8k_jsonl(
      "# a comment, as SGLang's reader allows\n"
      "\n"
      "   \t\n"
      "{\"question\": \"q\", \"answer\": \"#### 3\"}\n"
      "#{\"question\": \"commented out\", \"answer\": \"no label\"}\n"
      "{\"question\": \"r\", \"answer\": \"#### -4\"}",  // no final newline
      "t.jsonl");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].line, 4);
  EXPECT_EQ(items[1].line, 6);
  EXPECT_EQ(items[1].answer, "#### -4");
}

TEST(Gsm8kParse, ToleratesCrlf) {
  const auto items = parse_gsm8k_jsonl(
      "{\"question\": \"q\", \"answer\": \"x\\n#### 3\"}\r\n\r\n{\"question\": \"r\", \"answer\": \"#### 4\"}\r\n", "t");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].answer, "x\n#### 3");
  EXPECT_EQ(items[1].line, 3);
}

TEST(Gsm8kParse, DecodesUnicodeEscapes) {
  // "caf\u00e9 \u20ac5": é is C3 A9 and € is E2 82 AC in UTF-8.
  const auto items = parse_gsm8k_jsonl("{\"question\": \"caf\\u00e9 \\u20ac5\", \"answer\": \"#### 5\"}", "t");
  EXPECT_EQ(items[0].question, "caf\xC3\xA9 \xE2\x82\xAC" "5");
}

TEST(Gsm8kParse, RejectsBadJsonWithLineNumber) {
  const std::string message = error_of("{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\",\n", "data.jsonl");
  EXPECT_EQ(message.rfind("data.jsonl:2: line: not valid JSON", 0), 0u) << message;
}

TEST(Gsm8kParse, RejectsNonObjects) {
  EXPECT_EQ(error_of("[1, 2]"), "t.jsonl:1: line: not a JSON object but array ([1, 2])");
  EXPECT_EQ(error_of("\"text\""), "t.jsonl:1: line: not a JSON object but string (\"text\")");
}

TEST(Gsm8kParse, RejectsMissingFields) {
  EXPECT_EQ(error_of("\n{\"answer\": \"#### 1\"}"), "t.jsonl:2: question: missing field ({\"answer\": \"#### 1\"})");
  EXPECT_EQ(error_of("{\"question\": \"q\"}"), "t.jsonl:1: answer: missing field ({\"question\": \"q\"})");
}

TEST(Gsm8kParse, RejectsNonStringFields) {
  EXPECT_EQ(error_of("{\"question\": 5, \"answer\": \"#### 1\"}"), "t.jsonl:1: question: not a string but number (5)");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"answer\": [\"#### 1\"]}"),
            "t.jsonl:1: answer: not a string but array ([\"#### 1\"])");
  EXPECT_EQ(error_of("{\"question\": null, \"answer\": \"#### 1\"}"), "t.jsonl:1: question: not a string but null (null)");
}

TEST(Gsm8kParse, RejectsAnswersWithoutFinalLabel) {
  EXPECT_EQ(error_of("{\"question\": \"q\", \"answer\": \"He has 5.\"}"),
            "t.jsonl:1: answer: no final \"#### N\" line (He has 5.)");
  // The label must be the last line: text after it would change both scorers' reference.
  EXPECT_EQ(error_of("{\"question\": \"q\", \"answer\": \"#### 5\\nThat is all.\"}"),
            "t.jsonl:1: answer: no final \"#### N\" line (That is all.)");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"answer\": \"x\\n#### five\"}"),
            "t.jsonl:1: answer: final \"####\" line is not an integer (#### five)");
}

TEST(Gsm8kParse, LabelIntegerForms) {
  const auto label_ok = [](const std::string& label) {
    try {
      parse_gsm8k_jsonl("{\"question\": \"q\", \"answer\": \"#### " + label + "\"}", "t");
      return true;
    } catch (const InputError&) {
      return false;
    }
  };
  for (const char* good : {"0", "7", "-3", "1,234", "2,880,000", "-1,000", "72  "}) EXPECT_TRUE(label_ok(good)) << good;
  // "007" is refused: SGLang reads the label with Python's literal_eval, for which it is a syntax error.
  for (const char* bad : {"", "-", "007", "1,,2", "12,", ",12", "1.5", "$5", "5 apples", "--3", "1 000"}) {
    EXPECT_FALSE(label_ok(bad)) << bad;
  }
}

TEST(Gsm8kParse, RejectsEmptyInput) {
  EXPECT_EQ(error_of("", "e.jsonl").rfind("e.jsonl:0: file: no GSM8K example", 0), 0u);
  EXPECT_EQ(error_of("# only\n\n# comments\n", "e.jsonl").rfind("e.jsonl:3: file: no GSM8K example", 0), 0u);
}

TEST(Gsm8kParse, ErrorMessagesStayOnOneLine) {
  const std::string message = error_of("{\"question\": \"q\", \"answer\": \"line one\\nline two\\n\\tno label\"}");
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("\\tno label"), std::string::npos) << message;
}

TEST(Gsm8kParse, LongValuesAreCutInMessages) {
  const std::string long_question(500, 'x');
  const std::string message = error_of("{\"question\": \"" + long_question + "\"}");
  EXPECT_LT(message.size(), 120u) << message;
  EXPECT_NE(message.find("..."), std::string::npos);
  // Cut between characters, not inside one: every é (C3 A9) stays whole.
  std::string accents = "x";  // odd offset: a cut at the byte limit would split an é
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  const std::string cut = error_of("{\"question\": \"" + accents + "\"}");
  EXPECT_EQ(std::count(cut.begin(), cut.end(), '\xC3'), std::count(cut.begin(), cut.end(), '\xA9')) << cut;
  EXPECT_NE(cut.find("\xC3\xA9..."), std::string::npos) << cut;
}

TEST(Gsm8kLoad, ReadsAFileAndNamesItInErrors) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("mxg_gsm8k_load_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path good = dir / "good.jsonl";
  const std::filesystem::path bad = dir / "bad.jsonl";
  std::ofstream(good) << "{\"question\": \"q\", \"answer\": \"#### 1\"}\n";
  std::ofstream(bad) << "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": 1}\n";
  const auto items = load_gsm8k_jsonl(good);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].question, "q");
  try {
    load_gsm8k_jsonl(bad);
    ADD_FAILURE() << "bad file loaded";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), bad.string() + ":2: question: not a string but number (1)");
  }
  try {
    load_gsm8k_jsonl(dir / "missing.jsonl");
    ADD_FAILURE() << "missing file loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "missing.jsonl").string()), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Gsm8kWrite, ExactBytesInUpstreamLayout) {
  // Upstream's layout: keys question then answer, ", " and ": " separators, non-ASCII as \uXXXX
  // (é = U+00E9, € = U+20AC, and U+1F600 as a surrogate pair), '"' and newline escaped.
  const std::vector<Gsm8kItem> items{{"Zo\xC3\xAB paid \xE2\x82\xAC" "5 for \"tea\"", "5*1=<<5*1=5>>5\n#### 5", 0},
                                     {"Smile \xF0\x9F\x98\x80?", "#### 1,000", 0}};
  EXPECT_EQ(to_gsm8k_jsonl(items),
            "{\"question\": \"Zo\\u00eb paid \\u20ac5 for \\\"tea\\\"\", \"answer\": \"5*1=<<5*1=5>>5\\n#### 5\"}\n"
            "{\"question\": \"Smile \\ud83d\\ude00?\", \"answer\": \"#### 1,000\"}\n");
}

TEST(Gsm8kWrite, RoundTripsThroughTheParser) {
  const std::vector<Gsm8kItem> items{{"caf\xC3\xA9 \\ back\tslash", "a\r\nb\n#### -12", 0}, {"plain", "#### 0", 0}};
  const auto parsed = parse_gsm8k_jsonl(to_gsm8k_jsonl(items), "roundtrip");
  ASSERT_EQ(parsed.size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(parsed[i].question, items[i].question);
    EXPECT_EQ(parsed[i].answer, items[i].answer);
    EXPECT_EQ(parsed[i].line, static_cast<std::int64_t>(i + 1));
  }
}

TEST(Gsm8kWrite, RejectsInvalidUtf8) {
  EXPECT_THROW(to_gsm8k_jsonl({{"bad \xFF byte", "#### 1", 0}}), InputError);
}

}  // namespace
}  // namespace mxg::probe
