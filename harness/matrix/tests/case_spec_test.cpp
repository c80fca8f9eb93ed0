// Tests of case-file loading: schema violations reported with the file and the JSON pointer,
// the semantic checks, shape expansion, directory loading, and every case file in cases/.
#include "harness/matrix/case_spec.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness/matrix/case_schema.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::matrix {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A valid case with one model shape and one custom shape; tests mutate it.
json valid_case() {
  return json::parse(R"({
    "name": "unit-case",
    "tier": "quick",
    "comment": "fixture",
    "shapes": [
      {"model": "gptoss120b", "tp": 8, "ranks": [0, 7]},
      {"name": "ragged", "hidden": 128, "intermediate": 224, "experts": 8, "topk": 2, "tp": 4, "ranks": "all"}
    ],
    "tokens": [1, 16],
    "routing": ["uniform", "some-empty"],
    "inputs": ["normal", "nan-scale"],
    "seeds": [0, 7],
    "tolerance": {"nmse": 1e-4, "max_rel": 0.05, "cosine": 0.9999, "note": "provisional"},
    "dimensions": {"is_shuffled": [true], "gate_mode": ["separated", "interleave"]}
  })");
}

class CaseFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mxg_case_spec_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_text(const std::string& relative, const std::string& text) {
    const fs::path p = dir_ / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  fs::path write(const std::string& relative, const json& doc) { return write_text(relative, doc.dump(2)); }

  // The InputError message of loading `doc` as case.json.
  std::string error_of(const json& doc) {
    const fs::path file = write("case.json", doc);
    try {
      load_cases({file});
    } catch (const InputError& e) {
      return e.what();
    }
    ADD_FAILURE() << "loading succeeded: " << doc.dump();
    return "";
  }
  std::string prefix() const { return (dir_ / "case.json").string() + ": "; }

  fs::path dir_;
};

TEST_F(CaseFiles, ValidFileLoadsAndExpandsShapesPerRank) {
  const auto cases = load_cases({write("case.json", valid_case())});
  ASSERT_EQ(cases.size(), 1u);
  const CaseSpec& c = cases[0];
  EXPECT_EQ(c.name, "unit-case");
  EXPECT_EQ(c.tier, "quick");
  EXPECT_EQ(c.comment, "fixture");
  EXPECT_EQ(c.file, dir_ / "case.json");

  const std::vector<std::string> names = {"gptoss120b-tp8-r0", "gptoss120b-tp8-r7", "ragged-tp4-r0",
                                          "ragged-tp4-r1",     "ragged-tp4-r2",     "ragged-tp4-r3"};
  ASSERT_EQ(c.shapes.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(c.shapes[i].name, names[i]);
  // GPT-OSS-120b per LAYOUTS.md §2.
  const ShapeSpec& big = c.shapes[1];
  EXPECT_EQ(big.model, "gptoss120b");
  EXPECT_EQ(big.hidden, 2880);
  EXPECT_EQ(big.intermediate, 2880);
  EXPECT_EQ(big.experts, 128);
  EXPECT_EQ(big.topk, 4);
  EXPECT_EQ(big.tp, 8);
  EXPECT_EQ(big.rank, 7);
  EXPECT_FLOAT_EQ(big.swiglu_limit, 7.0f);
  EXPECT_FLOAT_EQ(big.alpha, 1.702f);
  const ShapeSpec& ragged = c.shapes[5];
  EXPECT_EQ(ragged.model, "custom");
  EXPECT_EQ(ragged.hidden, 128);
  EXPECT_EQ(ragged.intermediate, 224);
  EXPECT_EQ(ragged.experts, 8);
  EXPECT_EQ(ragged.topk, 2);
  EXPECT_EQ(ragged.rank, 3);

  EXPECT_EQ(c.tokens, (std::vector<std::int64_t>{1, 16}));
  EXPECT_EQ(c.routings, (std::vector<Routing>{Routing::Uniform, Routing::SomeEmpty}));
  EXPECT_EQ(c.inputs, (std::vector<InputDist>{InputDist::Normal, InputDist::NanScale}));
  EXPECT_EQ(c.seeds, (std::vector<std::uint64_t>{0, 7}));
  EXPECT_DOUBLE_EQ(c.tolerance.nmse, 1e-4);
  EXPECT_DOUBLE_EQ(c.tolerance.max_rel, 0.05);
  EXPECT_DOUBLE_EQ(c.tolerance.cosine, 0.9999);
  EXPECT_EQ(c.tolerance_note, "provisional");
  // JSON booleans become the dimension's value names.
  EXPECT_EQ(c.dimensions.at("is_shuffled"), (std::vector<std::string>{"true"}));
  EXPECT_EQ(c.dimensions.at("gate_mode"), (std::vector<std::string>{"separated", "interleave"}));
  EXPECT_EQ(c.dimensions.count("prep"), 0u);
}

TEST_F(CaseFiles, EnumViolationStatesExpectedAndFound) {
  json doc = valid_case();
  doc["shapes"][0]["tp"] = 3;
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/0/tp: expected one of 1, 2, 4, 8, found 3");

  doc = valid_case();
  doc["routing"][1] = "zipf";
  EXPECT_EQ(error_of(doc),
            prefix() + "/routing/1: expected one of uniform, skewed, one-expert, some-empty, found \"zipf\"");

  doc = valid_case();
  doc["dimensions"]["gate_mode"][0] = "interleaved";
  EXPECT_EQ(error_of(doc), prefix() + "/dimensions/gate_mode/0: expected one of separated, interleave, found \"interleaved\"");
}

TEST_F(CaseFiles, TypoInAFieldNameIsAnError) {
  json doc = valid_case();
  doc["tokns"] = doc["tokens"];
  doc.erase("tokens");
  const std::string root = error_of(doc);
  // Both the unknown field and the now-missing "tokens" are violations; either names the file.
  EXPECT_TRUE(root.rfind(prefix() + "/tokns: expected one of the fields", 0) == 0 ||
              root.rfind(prefix() + "/tokens: expected", 0) == 0)
      << root;

  doc = valid_case();
  doc["tolerance"]["nmes"] = 1e-4;
  const std::string nested = error_of(doc);
  EXPECT_EQ(nested.rfind(prefix() + "/tolerance/nmes: expected one of the fields ", 0), 0u) << nested;
  EXPECT_NE(nested.find("found unknown field \"nmes\""), std::string::npos) << nested;
  EXPECT_NE(nested.find("max_rel"), std::string::npos) << nested;

  doc = valid_case();
  doc["shapes"][1]["hiden"] = 128;
  EXPECT_EQ(error_of(doc).rfind(prefix() + "/shapes/1/hiden: expected one of the fields ", 0), 0u);
}

TEST_F(CaseFiles, WrongTypeNamesTheValue) {
  json doc = valid_case();
  doc["tokens"] = "4";
  EXPECT_EQ(error_of(doc), prefix() +
                               "/tokens: expected a non-empty list without repeats, each an integer from 1 to "
                               "65536, found \"4\"");
  doc = valid_case();
  doc["tokens"][1] = 2.5;
  EXPECT_EQ(error_of(doc), prefix() + "/tokens/1: expected an integer from 1 to 65536, found 2.5");
  doc = valid_case();
  doc["shapes"][0]["tp"] = "8";
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/0/tp: expected one of 1, 2, 4, 8, found \"8\"");
  doc = valid_case();
  doc["dimensions"]["is_shuffled"][0] = "true";  // booleans, not strings
  EXPECT_EQ(error_of(doc), prefix() + "/dimensions/is_shuffled/0: expected true or false, found \"true\"");
  doc = valid_case();
  doc["shapes"][1]["ranks"] = json::array({0, "x"});
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/1/ranks/1: expected an integer >= 0, found \"x\"");
  doc = valid_case();
  doc["shapes"][1]["hidden"] = 100;
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/1/hidden: expected a multiple of 32 from 32 to 65536, found 100");
}

TEST_F(CaseFiles, MissingFieldIsNamedAtItsPointer) {
  json doc = valid_case();
  doc.erase("tier");
  EXPECT_EQ(error_of(doc),
            prefix() + "/tier: expected one of quick, premerge, nightly (a required field), found nothing");
  doc = valid_case();
  doc["shapes"][1].erase("topk");
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/1/topk: expected an integer from 1 to 64 (a required field), found nothing");
  doc = valid_case();
  doc["tolerance"].erase("note");
  EXPECT_EQ(error_of(doc), prefix() + "/tolerance/note: expected a non-empty string (a required field), found nothing");
}

TEST_F(CaseFiles, ModelShapeRejectsCustomFields) {
  json doc = valid_case();
  doc["shapes"][0]["hidden"] = 2880;
  EXPECT_EQ(error_of(doc), prefix() +
                               "/shapes/0/hidden: expected no such field (a custom-shape field: the model fixes "
                               "H), found 2880");
}

TEST_F(CaseFiles, RootMustBeAnObject) {
  const std::string message = error_of(json::array({1, 2}));
  EXPECT_EQ(message.rfind(prefix() + "(root): expected an object with fields ", 0), 0u) << message;
}

TEST_F(CaseFiles, SemanticChecksUseTheSameStyle) {
  json doc = valid_case();
  doc["shapes"][0]["ranks"] = json::array({0, 8});
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/0/ranks/1: expected a rank below tp = 8, found 8");

  doc = valid_case();
  doc["shapes"][1]["topk"] = 9;
  EXPECT_EQ(error_of(doc), prefix() + "/shapes/1/topk: expected at most experts = 8, found 9");

  // I = 224 is 7 blocks of 32; at tp 8 each rank takes one block, so rank 7 gets none.
  doc = valid_case();
  doc["shapes"][1]["tp"] = 8;
  const std::string empty_rank = error_of(doc);
  EXPECT_EQ(empty_rank.rfind(prefix() + "/shapes/1/tp: expected every listed rank to load intermediate units", 0), 0u)
      << empty_rank;
  EXPECT_NE(empty_rank.find("rank 7"), std::string::npos) << empty_rank;

  doc = valid_case();
  doc["shapes"][1]["topk"] = 8;  // k = E: some-empty cannot leave an expert out
  const std::string some_empty = error_of(doc);
  EXPECT_EQ(some_empty.rfind(prefix() + "/routing/1: expected a routing that can leave experts empty", 0), 0u)
      << some_empty;

  doc = valid_case();
  doc["shapes"].push_back({{"model", "gptoss120b"}, {"tp", 8}, {"ranks", {7}}});
  EXPECT_EQ(error_of(doc), prefix() +
                               "/shapes/2: expected shapes that do not repeat an earlier entry's rank, found "
                               "gptoss120b-tp8-r7 a second time");
}

TEST_F(CaseFiles, CaseNamesAreUniqueAcrossFiles) {
  const fs::path first = write("a.json", valid_case());
  const fs::path second = write("b.json", valid_case());
  try {
    load_cases({dir_});
    FAIL() << "duplicate names loaded";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), second.string() + ": /name: expected a case name no other case file uses, found "
                                                       "\"unit-case\", already the name of the case in " +
                                         first.string());
  }
}

TEST_F(CaseFiles, SyntaxErrorGivesLineAndColumn) {
  const fs::path file = write_text("case.json", "{\n  \"name\": \"x\",\n  \"tier\" \"quick\"\n}\n");
  try {
    load_cases({file});
    FAIL() << "invalid JSON loaded";
  } catch (const InputError& e) {
    const std::string message = e.what();
    // The missing ':' is noticed at the string that starts on line 3, column 10.
    EXPECT_EQ(message.rfind(file.string() + ":3:", 0), 0u) << message;
    EXPECT_NE(message.find("not valid JSON (byte "), std::string::npos) << message;
    EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;
  }
  EXPECT_THROW(load_cases({write_text("empty.json", "")}), InputError);
}

TEST_F(CaseFiles, DirectoryLoadsEveryJsonSortedAndSkipsSchema) {
  json b = valid_case();
  b["name"] = "b-case";
  json a = valid_case();
  a["name"] = "a-case";
  json nested = valid_case();
  nested["name"] = "nested-case";
  write("sub/b.json", b);
  write("a.json", a);
  write("sub/deeper/c.json", nested);
  write_text("schema/not-a-case.json", "{\"this\": \"would fail validation\"}");
  write_text("notes.txt", "not json");
  const auto cases = load_cases({dir_});
  ASSERT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases[0].name, "a-case");
  // Paths compare element by element: sub/b.json before sub/deeper/c.json.
  EXPECT_EQ(cases[1].name, "b-case");
  EXPECT_EQ(cases[2].name, "nested-case");
}

TEST_F(CaseFiles, MissingPathsAndEmptyDirectoriesAreInputErrors) {
  EXPECT_THROW(load_cases({dir_ / "nope.json"}), InputError);
  fs::create_directories(dir_ / "empty");
  EXPECT_THROW(load_cases({dir_ / "empty"}), InputError);
}

TEST_F(CaseFiles, AFileNamedTwiceLoadsOnce) {
  const fs::path file = write("case.json", valid_case());
  EXPECT_EQ(load_cases({dir_, file}).size(), 1u);
}

TEST(CaseSchema, EmbeddedSchemaIsTheSourceFile) {
  std::ifstream in(MXG_CASE_SCHEMA, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  ASSERT_FALSE(text.str().empty());
  EXPECT_EQ(std::string(case_schema_text()), text.str()) << "rebuild: the embedded schema is stale";
}

// cases/ also holds non-case files (scenarios.json, schema/); the case files are the tier directories.
TEST(RepositoryCases, EveryCaseFileLoadsAndSitsInItsTiersDirectory) {
  const std::map<std::string, std::string> tier_of_directory = {
      {"default", "quick"}, {"premerge", "premerge"}, {"nightly", "nightly"}};
  std::vector<fs::path> directories;
  for (const auto& [directory, tier] : tier_of_directory) directories.push_back(fs::path(MXG_CASES_DIR) / directory);
  const auto cases = load_cases(directories);  // also checks names are unique across all of them
  for (const auto& [directory, tier] : tier_of_directory) {
    const auto in_directory = std::count_if(cases.begin(), cases.end(), [&](const CaseSpec& c) {
      return c.file.parent_path().filename() == directory;
    });
    EXPECT_GT(in_directory, 0) << directory;
  }
  for (const CaseSpec& c : cases) {
    EXPECT_EQ(c.tier, tier_of_directory.at(c.file.parent_path().filename().string())) << c.file;
  }
}

TEST(ModelShapes, FollowLayoutsTable) {
  const ShapeSpec s = model_shape("gptoss20b", 4, 3);
  EXPECT_EQ(s.name, "gptoss20b-tp4-r3");
  EXPECT_EQ(s.experts, 32);
  EXPECT_EQ(s.hidden, 2880);
  EXPECT_EQ(s.intermediate, 2880);
  EXPECT_EQ(s.topk, 4);
  EXPECT_THROW(model_shape("gptoss7b", 1, 0), InputError);
}

TEST(Names, RoutingAndInputNamesRoundTrip) {
  for (Routing r : {Routing::Uniform, Routing::Skewed, Routing::OneExpert, Routing::SomeEmpty}) {
    EXPECT_EQ(parse_routing(routing_name(r)), r);
  }
  for (InputDist d : {InputDist::Normal, InputDist::Outliers, InputDist::ZeroBlocks, InputDist::ExtremeScales,
                      InputDist::NanScale}) {
    EXPECT_EQ(parse_input_dist(input_dist_name(d)), d);
  }
  EXPECT_EQ(routing_name(Routing::OneExpert), "one-expert");
  EXPECT_EQ(input_dist_name(InputDist::ExtremeScales), "extreme-scales");
  EXPECT_FALSE(parse_routing("zipf").has_value());
  EXPECT_FALSE(parse_input_dist("gaussian").has_value());
}

}  // namespace
}  // namespace mxg::matrix
