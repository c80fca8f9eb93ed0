// Tests of config.json reading: the GPT-OSS fixtures' public dimensions, and one-line errors that
// name the file and the field for every kind of bad input.
#include "harness/preflight/model_config.hpp"

#include <gtest/gtest.h>

#include <string>

#include "kernels/common/errors.hpp"

namespace mxg::preflight {
namespace {

const std::string kFixtures = MXG_PREFLIGHT_FIXTURES;

nlohmann::json gptoss() {
  return nlohmann::json::parse(R"({"model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880,
    "num_local_experts": 32, "num_experts_per_tok": 4, "quantization_config": {"quant_method": "mxfp4"}})");
}

// The InputError message of parsing `doc`, or "" when it parsed.
std::string error_of(const nlohmann::json& doc) {
  try {
    parse_model_config(doc, "cfg.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, ReadsTheGptOssFixtures) {
  const ModelConfig small = load_model_config(kFixtures + "/gpt-oss-20b.config.json");
  EXPECT_EQ(small.model_type, "gpt_oss");
  EXPECT_EQ(small.hidden, 2880);
  EXPECT_EQ(small.intermediate, 2880);
  EXPECT_EQ(small.experts, 32);
  EXPECT_EQ(small.experts_per_token, 4);
  EXPECT_EQ(small.quant_method, "mxfp4");
  EXPECT_DOUBLE_EQ(small.swiglu_limit, 7.0);
  EXPECT_EQ(load_model_config(kFixtures + "/gpt-oss-120b.config.json").experts, 128);
}

TEST(ModelConfig, MissingFieldsAreNamed) {
  for (const char* field : {"hidden_size", "intermediate_size", "num_experts_per_tok"}) {
    auto doc = gptoss();
    doc.erase(field);
    const std::string e = error_of(doc);
    EXPECT_NE(e.find("cfg.json"), std::string::npos) << e;
    EXPECT_NE(e.find(field), std::string::npos) << e;
    EXPECT_NE(e.find("missing"), std::string::npos) << e;
  }
}

TEST(ModelConfig, DenseModelIsNotMoe) {
  auto doc = gptoss();
  doc.erase("num_local_experts");
  doc["model_type"] = "llama";
  const std::string e = error_of(doc);
  EXPECT_NE(e.find("num_local_experts"), std::string::npos) << e;
  EXPECT_NE(e.find("not a MoE model"), std::string::npos) << e;
  EXPECT_NE(e.find("llama"), std::string::npos) << e;
}

TEST(ModelConfig, BadValuesAreNamedWithTheValue) {
  auto text = gptoss();
  text["hidden_size"] = "2880";
  EXPECT_NE(error_of(text).find("'hidden_size' = \"2880\" is not an integer"), std::string::npos) << error_of(text);
  auto zero = gptoss();
  zero["intermediate_size"] = 0;
  EXPECT_NE(error_of(zero).find("'intermediate_size' = 0 must be positive"), std::string::npos) << error_of(zero);
  auto topk = gptoss();
  topk["num_experts_per_tok"] = 64;
  EXPECT_NE(error_of(topk).find("exceeds num_local_experts = 32"), std::string::npos) << error_of(topk);
  auto quant = gptoss();
  quant["quantization_config"] = nlohmann::json::object();
  EXPECT_NE(error_of(quant).find("quantization_config.quant_method"), std::string::npos) << error_of(quant);
  EXPECT_NE(error_of(nlohmann::json::array()).find("not a JSON object"), std::string::npos);
}

TEST(ModelConfig, UnreadableFilesAreInputErrors) {
  EXPECT_THROW(load_model_config(kFixtures + "/no-such-config.json"), InputError);
  // Not JSON at all: the README is text.
  EXPECT_THROW(load_model_config(std::string(MXG_PREFLIGHT_FIXTURES) + "/../../README.md"), InputError);
  // A fixture directory is not a JSON file.
  EXPECT_THROW(load_model_config(kFixtures), InputError);
}

}  // namespace
}  // namespace mxg::preflight
