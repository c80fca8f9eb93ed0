// config.json -> ModelConfig, with one-line InputErrors naming the file, field and value.
#include "harness/preflight/model_config.hpp"

#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::preflight {

namespace {

[[noreturn]] void fail(std::string_view label, std::string_view message) {
  throw InputError(fmt::format("{}: {}", label, message));
}

std::int64_t positive_int(const nlohmann::json& doc, std::string_view label, const char* field) {
  const auto it = doc.find(field);
  if (it == doc.end()) fail(label, fmt::format("field '{}' is missing", field));
  if (!it->is_number_integer()) fail(label, fmt::format("field '{}' = {} is not an integer", field, json_read::show(*it)));
  // Compared as the JSON's own integer before narrowing (18446744073709551615 read as int64 is -1), and
  // bounded so that every size product below stays far inside int64 (H_p printed negative before).
  constexpr std::int64_t kMaxField = std::int64_t{1} << 24;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxField)) {
    fail(label, fmt::format("field '{}' = {} is above {}", field, it->get<std::uint64_t>(), kMaxField));
  }
  const auto value = it->get<std::int64_t>();
  if (value <= 0) fail(label, fmt::format("field '{}' = {} must be positive", field, value));
  if (value > kMaxField) fail(label, fmt::format("field '{}' = {} is above {}", field, value, kMaxField));
  return value;
}

}  // namespace

ModelConfig parse_model_config(const nlohmann::json& doc, std::string_view label) {
  if (!doc.is_object()) fail(label, "the document is not a JSON object");
  ModelConfig c;
  c.source = std::string(label);
  if (const auto it = doc.find("model_type"); it != doc.end() && it->is_string()) c.model_type = it->get<std::string>();
  // Experts first: a dense model has no num_local_experts, and that is the clearer message.
  if (!doc.contains("num_local_experts")) {
    fail(label, fmt::format("field 'num_local_experts' is missing: model_type '{}' is not a MoE model (preflight "
                            "checks the fused-MoE path)",
                            c.model_type.empty() ? "?" : c.model_type));
  }
  c.experts = positive_int(doc, label, "num_local_experts");
  c.experts_per_token = positive_int(doc, label, "num_experts_per_tok");
  if (c.experts_per_token > c.experts) {
    fail(label, fmt::format("field 'num_experts_per_tok' = {} exceeds num_local_experts = {}", c.experts_per_token,
                            c.experts));
  }
  c.hidden = positive_int(doc, label, "hidden_size");
  c.intermediate = positive_int(doc, label, "intermediate_size");
  if (const auto it = doc.find("swiglu_limit"); it != doc.end()) {
    if (!it->is_number()) fail(label, fmt::format("field 'swiglu_limit' = {} is not a number", json_read::show(*it)));
    c.swiglu_limit = it->get<double>();
  }
  if (const auto it = doc.find("quantization_config"); it != doc.end()) {
    if (!it->is_object()) fail(label, fmt::format("field 'quantization_config' = {} is not an object", json_read::show(*it)));
    const auto method = it->find("quant_method");
    if (method == it->end() || !method->is_string()) {
      fail(label, "field 'quantization_config.quant_method' is missing or not a string");
    }
    c.quant_method = method->get<std::string>();
  }
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& path) {
  const std::string label = path.string();
  // Bounded read: regular file, depth and size limits, duplicate keys refused (two readers of a
  // config.json with "hidden_size" twice would disagree on the model).
  return parse_model_config(json_read::parse_file(label), label);
}

}  // namespace mxg::preflight
