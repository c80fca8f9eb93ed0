// The MoE fields of a Hugging Face config.json (GPT-OSS names), read into a MoeConfig.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "reference/moe_config.hpp"

namespace mxg::ref {

// Fields present in the file; absent ones stay empty so flags and defaults can fill them.
struct HfMoeFields {
  std::optional<std::int64_t> hidden_size, intermediate_size, num_local_experts, num_experts_per_tok;
  std::optional<double> swiglu_limit;
};

// Reads hidden_size, intermediate_size, num_local_experts, num_experts_per_tok and swiglu_limit
// (at the top level, or under "text_config"). InputError naming the file and field when the file
// is unreadable, not JSON, or a field has the wrong type.
HfMoeFields read_hf_config(const std::filesystem::path& path);

// Copies the present fields into `c`.
void apply_fields(const HfMoeFields& f, MoeConfig& c);

}  // namespace mxg::ref
