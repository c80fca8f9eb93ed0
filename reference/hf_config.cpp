// config.json parsing for the MoE layer sizes.
#include "reference/hf_config.hpp"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::ref {

HfMoeFields read_hf_config(const std::filesystem::path& path) {
  const nlohmann::json doc = json_read::parse_file(path.string());  // bounded; duplicate keys refused
  if (!doc.is_object()) throw InputError(fmt::format("{}: top level is not a JSON object", path.string()));
  // Multimodal wrappers keep the language model's fields under text_config.
  const nlohmann::json& fields = doc.contains("text_config") && doc["text_config"].is_object() ? doc["text_config"] : doc;

  auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    if (!fields.contains(key) || fields[key].is_null()) return std::nullopt;
    if (!fields[key].is_number_integer()) {
      throw InputError(fmt::format("{}: field '{}' is {}, expected an integer", path.string(), key, json_read::show(fields[key])));
    }
    // Bounded before narrowing: 18446744073709551615 read as int64 is -1; sizes beyond 2^24 are not a model.
    constexpr std::int64_t kMaxField = std::int64_t{1} << 24;
    const bool too_big = fields[key].is_number_unsigned() ? fields[key].get<std::uint64_t>() > kMaxField
                                                          : fields[key].get<std::int64_t>() > kMaxField;
    if (too_big || fields[key].get<std::int64_t>() < 0) {
      throw InputError(fmt::format("{}: field '{}' is {}, expected an integer in [0, {}]", path.string(), key,
                                   json_read::show(fields[key]), kMaxField));
    }
    return fields[key].get<std::int64_t>();
  };
  HfMoeFields f;
  f.hidden_size = integer("hidden_size");
  f.intermediate_size = integer("intermediate_size");
  f.num_local_experts = integer("num_local_experts");
  f.num_experts_per_tok = integer("num_experts_per_tok");
  if (fields.contains("swiglu_limit") && !fields["swiglu_limit"].is_null()) {
    if (!fields["swiglu_limit"].is_number()) {
      throw InputError(fmt::format("{}: field 'swiglu_limit' is {}, expected a number", path.string(),
                                   json_read::show(fields["swiglu_limit"])));
    }
    f.swiglu_limit = fields["swiglu_limit"].get<double>();
  }
  return f;
}

void apply_fields(const HfMoeFields& f, MoeConfig& c) {
  if (f.hidden_size) c.hidden = *f.hidden_size;
  if (f.intermediate_size) c.intermediate = *f.intermediate_size;
  if (f.num_local_experts) c.experts = *f.num_local_experts;
  if (f.num_experts_per_tok) c.topk = *f.num_experts_per_tok;
  if (f.swiglu_limit) c.swiglu_limit = *f.swiglu_limit;
}

}  // namespace mxg::ref
