// Problem file names derived from combination ids (kernels/backend/problem_name.hpp).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "kernels/backend/problem_name.hpp"

namespace mxg {
namespace {

TEST(ProblemName, SlashesBecomeTildesAndOtherBytesUnderscores) {
  EXPECT_EQ(problem_file_name("small-a/tp1/T=16/flag=0,1/pad=none"), "small-a~tp1~T=16~flag=0,1~pad=none.safetensors");
  EXPECT_EQ(problem_file_stem("a b*c\n"), "a_b_c_");
  EXPECT_EQ(problem_file_stem(""), "problem");
}

TEST(ProblemName, NeverAHiddenFileOrAnOption) {
  EXPECT_EQ(problem_file_stem(".hidden"), "_hidden");
  EXPECT_EQ(problem_file_stem("-rf"), "_rf");
}

TEST(ProblemName, LongIdsSharingAHeadKeepDistinctBoundedNames) {
  const std::string head(400, 'x');
  std::set<std::string> names;
  for (const char* tail : {"/a", "/b", "/c", "/a/"}) {
    const std::string name = problem_file_name(head + tail);
    EXPECT_LE(name.size(), kMaxNameBytes);
    EXPECT_TRUE(name.ends_with(".safetensors"));
    EXPECT_EQ(name.substr(0, 100), std::string(100, 'x'));  // the head stays readable
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 4u);
  // The same id always maps to the same name (a resumed run finds its own files).
  EXPECT_EQ(problem_file_name(head + "/a"), problem_file_name(head + "/a"));
}

}  // namespace
}  // namespace mxg
