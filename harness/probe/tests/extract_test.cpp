// Answer extraction: hand-worked cases for each extractor, reference labels, agreement of the
// hand-written scanners with std::regex on random strings, and the degenerate-output detector.
#include "harness/probe/extract.hpp"

#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "harness/probe/gsm8k_synth.hpp"

namespace mxg::probe {
namespace {

using Want = std::optional<std::string>;
constexpr auto kNone = std::nullopt;

struct Case {
  std::string response;
  Want sglang, strict, flexible;  // worked out by hand, reasoning in the comment of each case
};

TEST(Extractor, NamesRoundTrip) {
  for (const Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
    EXPECT_EQ(parse_extractor(extractor_name(e)), e);
  }
  EXPECT_EQ(extractor_name(Extractor::StrictMatch), "strict-match");
  EXPECT_EQ(parse_extractor("regex"), std::nullopt);
}

TEST(Extract, HandWorkedCases) {
  const std::vector<Case> cases{
      // SGLang: commas go, "$1234.50" -> runs 1234, 50 -> last 50. flexible: "$1,234.50" is one
      // [$0-9.,] run; without ',' and '$' it is 1234.50. No "#### ": strict finds nothing.
      {"$1,234.50", "50", kNone, "1234.50"},
      // The minus sign is lost to \d+; flexible's alternative 2 keeps it ('-' then one digit).
      {"-3", "3", kNone, "-3"},
      {"#### 72", "72", "72", "72"},
      // Numbers echoed from the question after the answer: SGLang and flexible take the last one
      // ("7." -> trailing '.' removed), strict-match the "#### " one.
      {"He has 33 apples.\n#### 33\nCheck: he had 12 and bought 3 bags of 7.", "7", "33", "7"},
      {"The question says 12 apples and 3 bags of 7, so 12 + 21 = 33 apples.", "33", kNone, "33"},
      // No number at all: invalid everywhere.
      {"I do not know.", kNone, kNone, kNone},
      {"", kNone, kNone, kNone},
      // Unicode around numbers (é, €, ’, —, ✓ are multi-byte; none is a digit).
      {"Zo\xC3\xAB pays \xE2\x82\xAC" "12 for the caf\xC3\xA9\xE2\x80\x99s 3 cr\xC3\xAApes \xE2\x80\x94 36 in total \xE2\x9C\x93",
       "36", kNone, "36"},
      {"#### 1,234 \xE2\x82\xAC", "1234", "1234", "1234"},
      // Non-ASCII decimal digits: Python's \d matches ARABIC-INDIC THREE (U+0663, D9 A3) and FULLWIDTH
      // FOUR/TWO (U+FF14 U+FF12), but literal_eval rejects them, so SGLang scores invalid; lm-eval's
      // classes are ASCII-only.
      {"The answer is \xD9\xA3", kNone, kNone, kNone},
      {"42 then \xD9\xA3", kNone, kNone, "42"},
      {"12\xD9\xA3", kNone, kNone, "12"},
      {"\xEF\xBC\x94\xEF\xBC\x92 apples, #### 5", "5", "5", "5"},
      // Leading zeros: literal_eval("007") is a syntax error (invalid), "000" is 0.
      {"#### 007", kNone, "007", "007"},
      {"it is 000", "0", kNone, "000"},
      // Removing commas joins digits: "1,2,3" -> 123; "5, 6" -> 5 and 6.
      {"1,2,3", "123", kNone, "123"},
      {"5, 6", "6", kNone, "6"},
      // strict-match: the first "#### " wins; overlapping hashes still match; "-" needs a digit run.
      {"#### 5\n#### 6", "6", "5", "6"},
      {"##### 8", "8", "8", "8"},
      {"#### -5 degrees", "5", "-5", "-5"},
      {"#### - 4", "4", kNone, "4"},
      {"#### -.5", "5", "-.5", "-.5"},
      // flexible-extract specifics: "$5." -> 5; "-$12" keeps the minus; "x-5-6" -> -5, -6 (last -6).
      {"It costs $5.", "5", kNone, "5"},
      {"a loss of -$12", "12", kNone, "-12"},
      {"x-5-6", "6", kNone, "-6"},
      {"5 $", "5", kNone, "5"},
      {"version 1.2.3", "3", kNone, "1.2.3"},
      // "..." is a [$0-9.,]{2,} match: lm-eval drops one trailing '.', leaving "..", a (wrong) answer.
      {"Hmm...", kNone, kNone, ".."},
      // A sentence-ending '.' joins the number's run: lm-eval's "\.$" rule removes it again.
      {"#### 1,000.", "1000", "1000", "1000"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(extract_prediction(Extractor::Sglang, c.response), c.sglang) << "sglang: " << c.response;
    EXPECT_EQ(extract_prediction(Extractor::StrictMatch, c.response), c.strict) << "strict: " << c.response;
    EXPECT_EQ(extract_prediction(Extractor::FlexibleExtract, c.response), c.flexible) << "flexible: " << c.response;
  }
}

TEST(Extract, SglangNonAsciiDigitTableEdges) {
  // First and last code points of some Nd ranges (digits), and neighbours that are not digits.
  const std::vector<std::pair<std::string, bool>> chars{
      {"\xD9\xA0", true},          // U+0660 ARABIC-INDIC DIGIT ZERO
      {"\xD9\xA9", true},          // U+0669
      {"\xD9\xAA", false},         // U+066A ARABIC PERCENT SIGN
      {"\xEF\xBC\x90", true},      // U+FF10 FULLWIDTH DIGIT ZERO
      {"\xEF\xBC\x99", true},      // U+FF19
      {"\xEF\xBC\x9A", false},     // U+FF1A FULLWIDTH COLON
      {"\xF0\x9D\x9F\x8E", true},  // U+1D7CE MATHEMATICAL BOLD DIGIT ZERO
      {"\xF0\x9D\x9F\xBF", true},  // U+1D7FF MATHEMATICAL MONOSPACE DIGIT NINE
      {"\xF0\x9F\xAF\xB9", true},  // U+1FBF9 SEGMENTED DIGIT NINE
      {"\xC2\xB2", false},         // U+00B2 SUPERSCRIPT TWO is No, not Nd
      {"\xE2\x85\xA0", false},     // U+2160 ROMAN NUMERAL ONE is Nl
  };
  for (const auto& [text, is_digit] : chars) {
    // A trailing Nd digit makes the last \d+ run unreadable for literal_eval; otherwise 7 is the last run.
    EXPECT_EQ(extract_prediction(Extractor::Sglang, "7 " + text), is_digit ? Want{} : Want{"7"}) << text;
  }
}

TEST(Extract, SglangPythonIntegerDigitLimit) {
  // CPython >= 3.11 refuses integer literals over 4300 digits (a SyntaxError in literal_eval).
  EXPECT_EQ(extract_prediction(Extractor::Sglang, std::string(4300, '9')), std::string(4300, '9'));
  EXPECT_EQ(extract_prediction(Extractor::Sglang, std::string(4301, '9')), std::nullopt);
  EXPECT_EQ(extract_prediction(Extractor::Sglang, std::string(5000, '0')), "0");
}

TEST(ReferenceLabel, EachExtractor) {
  const std::string answer = "He buys 3*7=<<3*7=21>>21.\nHe has 1,213+21=<<1213+21=1234>>1,234.\n#### 1,234";
  EXPECT_EQ(reference_label(Extractor::Sglang, answer), "1234");
  EXPECT_EQ(reference_label(Extractor::StrictMatch, answer), "1234");
  EXPECT_EQ(reference_label(Extractor::FlexibleExtract, answer), "1234");
  // Negative labels: SGLang drops the minus (on the prediction too), lm-eval keeps it.
  EXPECT_EQ(reference_label(Extractor::Sglang, "It fell 12.\n#### -7"), "7");
  EXPECT_EQ(reference_label(Extractor::StrictMatch, "It fell 12.\n#### -7"), "-7");
  // lm-eval: text after the last "####", stripped, then the ignore-regexes.
  EXPECT_EQ(reference_label(Extractor::FlexibleExtract, "a #### b ####  $42. \n"), "42");
  EXPECT_EQ(reference_label(Extractor::StrictMatch, "No hashes, 5 apples"), "No hashes 5 apples");
  // Python's "b##### ".split("####") is ["b", "# "]: the separator is found left to right.
  EXPECT_EQ(reference_label(Extractor::StrictMatch, "b##### "), "#");
  // str.strip() removes Unicode whitespace too (U+00A0 NO-BREAK SPACE, U+3000 IDEOGRAPHIC SPACE).
  EXPECT_EQ(reference_label(Extractor::StrictMatch, "#### 42\xC2\xA0\xE3\x80\x80"), "42");
  EXPECT_EQ(reference_label(Extractor::Sglang, "no number"), "-9999999");
}

TEST(ReferenceLabel, ACopiedSolutionScoresCorrect) {
  for (const Gsm8kItem& item : generate_gsm8k(300, 11)) {
    for (const Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
      EXPECT_EQ(extract_prediction(e, item.answer), reference_label(e, item.answer))
          << extractor_name(e) << ": " << item.answer;
    }
  }
}

// ---- independent check: the scanners against std::regex ------------------------------------------
// (During development the scanners were also compared with CPython's re, ast.literal_eval and
// str.split/strip on 90,000 random strings including non-ASCII digits and whitespace: no difference.
// CI has no Python, so std::regex is the check that stays.)

std::string regex_remove(const std::string& s, const char* pattern) {
  return std::regex_replace(s, std::regex(pattern), "");
}

// lm-eval's ignore-regexes written as regexes, then strip. Python's '$' also matches before a final
// newline (removing the commas can leave "5.\n"), which ECMAScript spells "(?=\n?$)".
std::string strip(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\n\r\v\f");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\n\r\v\f") - first + 1);
}

std::string oracle_normalise(std::string s) {
  s = regex_remove(s, ",");
  s = regex_remove(s, "\\$");
  s = regex_remove(s, "^[\\s\\S]*#### ");
  s = regex_remove(s, "\\.(?=\\n?$)");
  return strip(s);
}

Want oracle_sglang(const std::string& text) {
  const std::string s = regex_remove(text, ",");
  const std::regex digits("[0-9]+");
  std::string last;
  bool found = false;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), digits); it != std::sregex_iterator(); ++it) {
    last = it->str();
    found = true;
  }
  if (!found) return std::nullopt;
  if (last.find_first_not_of('0') == std::string::npos) return "0";  // literal_eval("000") == 0
  if (last[0] == '0') return std::nullopt;                           // literal_eval("07"): SyntaxError
  return last;
}

Want oracle_strict(const std::string& text) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("#### (\\-?[0-9\\.\\,]+)"))) return std::nullopt;
  return oracle_normalise(m[1].str());
}

Want oracle_flexible(const std::string& text) {
  const std::regex pattern("(-?[$0-9.,]{2,})|(-?[0-9]+)");
  Want last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
    last = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
  }
  if (!last) return std::nullopt;
  return oracle_normalise(*last);
}

TEST(Extract, ScannersAgreeWithStdRegexOnRandomStrings) {
  // Strings from the characters the patterns care about, plus "#### " pieces so strict-match fires.
  static constexpr std::string_view kAlphabet = "0123456789000,,..--$$#  \nab";
  std::mt19937 rng(20261125u);
  for (int i = 0; i < 4000; ++i) {
    std::string s;
    const int length = static_cast<int>(rng() % 30);
    for (int j = 0; j < length; ++j) {
      s += rng() % 8 == 0 ? std::string("#### ") : std::string(1, kAlphabet[rng() % kAlphabet.size()]);
    }
    ASSERT_EQ(extract_prediction(Extractor::Sglang, s), oracle_sglang(s)) << "sglang: [" << s << "]";
    ASSERT_EQ(extract_prediction(Extractor::StrictMatch, s), oracle_strict(s)) << "strict: [" << s << "]";
    ASSERT_EQ(extract_prediction(Extractor::FlexibleExtract, s), oracle_flexible(s)) << "flexible: [" << s << "]";
    // lm-eval reference: the piece after the last separator of Python's split("####") (left to right,
    // no overlap: std::regex's match iteration does the same), stripped, then the ignore-regexes.
    const std::regex separator("####");
    std::size_t after = 0;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), separator); it != std::sregex_iterator(); ++it) {
      after = static_cast<std::size_t>(it->position() + it->length());
    }
    ASSERT_EQ(reference_label(Extractor::StrictMatch, s), oracle_normalise(strip(s.substr(after))))
        << "reference: [" << s << "]";
  }
}

// ---- degenerate output ---------------------------------------------------------------------------

std::string repeat(std::string_view fragment, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += fragment;
  return out;
}

TEST(Degenerate, RealStyleSolutionsAreNot) {
  const std::vector<std::string> solutions{
      "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in "
      "April and May.\n#### 72",
      "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day at the "
      "farmer's market.\n#### 18",
      // Nothing but equations, six lines of them: digits and symbols, no letters, yet a real solution.
      "5*4=<<5*4=20>>20\n20+12=<<20+12=32>>32\n32/2=<<32/2=16>>16\n16*3=<<16*3=48>>48\n48-7=<<48-7=41>>41\n"
      "41*2=<<41*2=82>>82\n#### 82",
      "The total cost is 1,250 + 3,400 + 12,000 = $<<1250+3400+12000=16650>>16,650.\n#### 16,650",
      "He needs 0.25 * 1000000 = <<0.25*1000000=250000>>250,000 grams.\n#### 250000\n\n",
      "72", "", "#### 1000000", "Zo\xC3\xAB a pay\xC3\xA9 12 \xE2\x82\xAC.\n#### 12",
  };
  for (const std::string& s : solutions) EXPECT_FALSE(is_degenerate(s)) << s;
  for (const Gsm8kItem& item : generate_gsm8k(500, 3)) {
    EXPECT_FALSE(is_degenerate(item.answer)) << item.answer;
    EXPECT_FALSE(is_degenerate(item.question)) << item.question;
  }
}

TEST(Degenerate, RepetitionAtTheEnd) {
  EXPECT_TRUE(is_degenerate(repeat("The answer is 5. ", 8)));
  EXPECT_TRUE(is_degenerate("He has 12 apples.\n" + repeat("I think ", 30)));
  EXPECT_TRUE(is_degenerate(repeat("!", 40)));
  EXPECT_TRUE(is_degenerate(repeat("\n", 64)));
  EXPECT_TRUE(is_degenerate(repeat("ab", 200) + "a"));  // cut off mid-fragment at max_new_tokens
  // Fragment of 16 bytes: 4 copies are degenerate, 3 are not.
  EXPECT_TRUE(is_degenerate(repeat("abcdefghijklmnop", 4)));
  EXPECT_FALSE(is_degenerate(repeat("abcdefghijklmnop", 3)));
  // 41-byte fragment: longer than the longest period looked for.
  EXPECT_FALSE(is_degenerate(repeat("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO", 6)));
  // A loop early on that the model left: the tail is a normal solution.
  EXPECT_FALSE(is_degenerate(repeat("so so ", 6) + "Natalia sold 48/2 = <<48/2=24>>24 clips in May, so she sold 48+24 "
                                                   "= <<48+24=72>>72 clips in all.\n#### 72"));
}

TEST(Degenerate, DigitSoup) {
  const std::string pi = "31415926535897932384626433832795028841971693993751";  // no repetition
  EXPECT_TRUE(is_degenerate(pi.substr(0, 40)));
  EXPECT_FALSE(is_degenerate(pi.substr(0, 39)));  // below 40 measured characters
  EXPECT_TRUE(is_degenerate("3.14 2.71 1.41 1.73 0.57 4.66 2.50 9.81 6.67 1.60"));
  EXPECT_TRUE(is_degenerate("7=1=9=3=8=2=6=4=5=0=1=7=3=9=2=8=6=4=0=5=3"));  // too many '=' for arithmetic
  // Letters above 10% make it text, not soup: 36 digits + 5 letters = 12% letters.
  EXPECT_FALSE(is_degenerate(pi.substr(0, 36) + "apple"));
  EXPECT_TRUE(is_degenerate(pi.substr(0, 46) + "ab"));  // 2 of 48 are letters
}

}  // namespace
}  // namespace mxg::probe
