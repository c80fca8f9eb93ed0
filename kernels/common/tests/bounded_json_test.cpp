// The bounded reader refuses what would crash, hang or mislead a plain nlohmann parse, in one line.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::json_read {
namespace {

std::string nested(int depth, std::string_view leaf = "1") {
  return std::string(static_cast<std::size_t>(depth), '[') + std::string(leaf) +
         std::string(static_cast<std::size_t>(depth), ']');
}

std::string error_of(std::string_view text, const Limits& limits = {}) {
  try {
    parse(text, "input.json", limits);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(BoundedJson, HundredThousandLevelsIsOneLineInputError) {
  // Reproduces C1: a 200 KB file of nested brackets overflowed the stack of every reader.
  const std::string msg = error_of(nested(100'000));
  EXPECT_NE(msg.find("input.json: JSON nested deeper than 64 levels"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  const std::string obj = [] {
    std::string s;
    for (int i = 0; i < 100'000; ++i) s += R"({"detail":)";
    return s + "1" + std::string(100'000, '}');
  }();
  EXPECT_NE(error_of(obj).find("nested deeper"), std::string::npos);
}

TEST(BoundedJson, DepthAtTheLimitParses) {
  EXPECT_EQ(parse(nested(64), "x").dump(), nested(64));
  EXPECT_NE(error_of(nested(65)).find("nested deeper than 64"), std::string::npos);
  EXPECT_NO_THROW(parse(nested(200), "x", Limits{.max_depth = 200}));
}

TEST(BoundedJson, DuplicateKeysRefusedAtAnyDepth) {
  EXPECT_NE(error_of(R"({"a":1,"a":2})").find("field 'a' is given twice"), std::string::npos);
  EXPECT_NE(error_of(R"({"x":{"h":1,"h":1}})").find("field 'h' is given twice"), std::string::npos);
  // Same key in sibling objects is fine.
  EXPECT_NO_THROW(parse(R"([{"a":1},{"a":2}])", "x"));
  EXPECT_EQ(parse(R"({"a":1,"a":2})", "x", Limits{.allow_duplicate_keys = true})["a"], 2);
}

TEST(BoundedJson, SizeLimitRefusesBeforeParsing) {
  const std::string msg = error_of(std::string(2000, ' ') + "1", Limits{.max_bytes = 1000});
  EXPECT_NE(msg.find("2001 bytes exceeds the 1000-byte limit"), std::string::npos) << msg;
}

TEST(BoundedJson, SyntaxErrorsAreClippedToOneLine) {
  const std::string huge_token = "\"" + std::string(1'000'000, 'x');  // unterminated string
  const std::string msg = error_of(huge_token);
  EXPECT_LT(msg.size(), 400u);
  EXPECT_NE(msg.find("input.json: not valid JSON"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(BoundedJson, ManyMembersParseInLinearTime) {
  // Reproduces H2: nlohmann's callback parser rescans the parent at each nested end (quadratic).
  // 200,000 members took minutes that way; bounded here to a few seconds on a slow machine.
  std::string text = "{";
  for (int i = 0; i < 200'000; ++i) text += fmt::format("{}\"t{}\":{{\"s\":[1]}}", i ? "," : "", i);
  text += "}";
  const auto start = std::chrono::steady_clock::now();
  const auto j = parse(text, "x");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(j.size(), 200'000u);
  EXPECT_LT(s, 10.0);
}

TEST(BoundedJson, ShowIsShortAndFlatWhateverTheValue) {
  nlohmann::json deep = 1;
  for (int i = 0; i < 100'000; ++i) deep = nlohmann::json::array({std::move(deep)});
  const std::string s = show(deep);
  EXPECT_LE(s.size(), 83u);
  EXPECT_EQ(s, "[[[[...]]]]");
  EXPECT_EQ(show(nlohmann::json{{"a", 1}}), R"({"a":1})");
  EXPECT_EQ(show(nlohmann::json(std::string(500, 'y'))).size(), 83u);
}

}  // namespace
}  // namespace mxg::json_read
