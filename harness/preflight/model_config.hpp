// The model dimensions preflight needs, read from a Hugging Face config.json: hidden and
// intermediate sizes, expert counts and the quantization method. Bad or missing fields are
// InputErrors naming the file, the field and the value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mxg::preflight {

struct ModelConfig {
  std::string source;              // file path (or a label) for messages
  std::string model_type;          // "gpt_oss"
  std::int64_t hidden = 0;         // hidden_size (H)
  std::int64_t intermediate = 0;   // intermediate_size (I, per expert)
  std::int64_t experts = 0;        // num_local_experts (E)
  std::int64_t experts_per_token = 0;  // num_experts_per_tok (top-k)
  std::string quant_method;        // quantization_config.quant_method, "" when absent
  double swiglu_limit = 0.0;       // swiglu_limit, 0 when absent
};

// Reads and validates `path`. Throws InputError for a missing or unparsable file, a missing or
// mistyped field, a non-positive size or a model without MoE experts.
ModelConfig load_model_config(const std::filesystem::path& path);

// The same checks on an already parsed document; `label` names it in messages.
ModelConfig parse_model_config(const nlohmann::json& doc, std::string_view label);

}  // namespace mxg::preflight
