// Scratch directories, tiny case files and results.jsonl reading for the matrix end-to-end tests.
#include "harness/matrix/tests/matrix_test_files.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "harness/matrix/tests/mxguard_process.hpp"

namespace mxg::matrix::testing {

ScratchDir::ScratchDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("mxg_matrix_") + info->test_suite_name() + "_" + info->name() + "_" +
                     std::to_string(::getpid());
  std::replace(name.begin(), name.end(), '/', '_');
  path_ = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path write_case(const std::filesystem::path& dir, const TinyCase& c) {
  nlohmann::json shape = {{"name", "small"}, {"hidden", 128}, {"intermediate", 128}, {"experts", 8},
                          {"topk", 2},       {"tp", c.tp},     {"ranks", c.ranks}};
  nlohmann::json doc = {
      {"name", c.name},
      {"tier", "quick"},
      {"comment", "written by harness/matrix/tests for one end-to-end test"},
      {"shapes", nlohmann::json::array({shape})},
      {"tokens", c.tokens},
      {"routing", c.routing},
      {"inputs", c.inputs},
      {"seeds", nlohmann::json::array({0})},
      {"tolerance", {{"nmse", c.nmse}, {"max_rel", c.max_rel}, {"cosine", c.cosine}, {"note", "test tolerance"}}},
  };
  nlohmann::json dims = nlohmann::json::object();
  for (const auto& [name, values] : c.dimensions) dims[name] = values;
  doc["dimensions"] = dims;
  std::filesystem::create_directories(dir);
  const auto path = dir / (c.name + ".json");
  std::ofstream(path) << doc.dump(2) << '\n';
  return path;
}

std::string instance_id(const TinyCase& c, int rank, int tokens, const std::string& routing,
                        const std::string& inputs) {
  return c.name + "/small-tp" + std::to_string(c.tp) + "-r" + std::to_string(rank) + "/T=" + std::to_string(tokens) +
         "/route=" + routing + "/in=" + inputs + "/seed=0";
}

std::string combination_suffix(const std::string& prep, const std::string& weight_shuffle,
                               const std::string& scale_shuffle, bool is_shuffled, const std::string& gate_mode,
                               const std::string& padding) {
  return "/prep=" + prep + "/wshuf=" + weight_shuffle + "/sshuf=" + scale_shuffle + "/flag=" +
         (is_shuffled ? "1" : "0") + "/gate=" + gate_mode + "/pad=" + padding;
}

std::vector<ResultLine> read_results(const std::filesystem::path& results_jsonl) {
  std::vector<ResultLine> out;
  for (const auto& line : complete_lines(results_jsonl)) {
    if (line.empty()) continue;
    ResultLine r;
    r.json = nlohmann::json::parse(line);
    r.id = r.json.at("id").get<std::string>();
    r.case_name = r.json.at("case_name").get<std::string>();
    r.verdict = r.json.at("verdict").get<std::string>();
    r.message = r.json.at("message").get<std::string>();
    out.push_back(std::move(r));
  }
  return out;
}

std::map<std::string, std::string> verdicts_by_id(const std::vector<ResultLine>& results) {
  std::map<std::string, std::string> out;
  for (const auto& r : results) out.emplace(r.id, r.verdict);
  return out;
}

}  // namespace mxg::matrix::testing
