// Tests of --env parsing: accepted syntax, each kind of syntax error, and boolean spellings.
#include "harness/preflight/env_vars.hpp"

#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"

namespace mxg::preflight {
namespace {

std::string error_of(const std::vector<std::string>& items) {
  try {
    parse_env_assignments(items);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(EnvVars, ParsesAssignments) {
  const auto env = parse_env_assignments({"SGLANG_USE_AITER=1", "A_B=x=y", "EMPTY=", "A_B=x=y"});
  EXPECT_EQ(env.size(), 3u);
  EXPECT_EQ(env.at("SGLANG_USE_AITER"), "1");
  EXPECT_EQ(env.at("A_B"), "x=y");  // only the first '=' separates
  EXPECT_EQ(env.at("EMPTY"), "");
  EXPECT_EQ(env_value(env, "A_B"), std::optional<std::string>("x=y"));
  EXPECT_EQ(env_value(env, "MISSING"), std::nullopt);
}

TEST(EnvVars, SyntaxErrorsNameTheItem) {
  EXPECT_NE(error_of({"SGLANG_USE_AITER"}).find("--env 'SGLANG_USE_AITER': expected KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of({"=1"}).find("key '' is not"), std::string::npos);
  EXPECT_NE(error_of({"1ABC=1"}).find("key '1ABC'"), std::string::npos);
  EXPECT_NE(error_of({"A-B=1"}).find("key 'A-B'"), std::string::npos);
  EXPECT_NE(error_of({"K=1", "K=0"}).find("K was already given as '1'"), std::string::npos);
}

TEST(EnvVars, Booleans) {
  for (const char* t : {"1", "true", "True", "YES", "on"}) EXPECT_TRUE(parse_env_bool("K", t)) << t;
  for (const char* f : {"0", "false", "False", "no", "OFF"}) EXPECT_FALSE(parse_env_bool("K", f)) << f;
  for (const char* bad : {"", "2", "enable", "tru"}) {
    try {
      parse_env_bool("SGLANG_USE_AITER_MOE_GU_ITLV", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("SGLANG_USE_AITER_MOE_GU_ITLV"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace mxg::preflight
