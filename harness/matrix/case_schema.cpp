// Schema validation of case files with valijson, and the translation of valijson's errors
// (a context path and a generic sentence) into "POINTER: expected X, found Y": the expectation
// is read from the schema node at that pointer, the found value from the document.
#include "harness/matrix/case_schema.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "harness/matrix/case_schema_text.hpp"
#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::matrix {
namespace {

using nlohmann::json;

const json& schema_document() {
  static const json document = json::parse(case_schema_text());
  return document;
}

struct CompiledSchema {
  valijson::Schema schema;
  CompiledSchema() {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(schema_document());
    parser.populateSchema(adapter, schema);
  }
};

const valijson::Schema& compiled_schema() {
  static const CompiledSchema compiled;
  return compiled.schema;
}

// RFC 6901 escaping of one reference token.
std::string escape_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// One step of an instance path: an object key or an array index.
struct Step {
  std::string key;
  std::optional<std::size_t> index;
};

std::string pointer_of(const std::vector<Step>& steps) {
  std::string out;
  for (const auto& s : steps) out += "/" + (s.index ? std::to_string(*s.index) : escape_token(s.key));
  return out;
}

// valijson's context is {"<root>", "[key]", "[3]", ...}; whether "[3]" is an index or a key
// depends on the instance, so the path is resolved against the document.
std::vector<Step> steps_of(const std::vector<std::string>& context, const json& document) {
  std::vector<Step> steps;
  const json* node = &document;
  for (std::size_t i = 1; i < context.size(); ++i) {
    const std::string& part = context[i];
    const std::string inner = part.size() >= 2 ? part.substr(1, part.size() - 2) : part;
    Step step;
    if (node && node->is_array()) {
      step.index = std::stoul(inner);
      node = *step.index < node->size() ? &(*node)[*step.index] : nullptr;
    } else {
      step.key = inner;
      node = node && node->is_object() && node->contains(inner) ? &(*node)[inner] : nullptr;
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

const json* instance_at(const json& document, const std::vector<Step>& steps) {
  const json* node = &document;
  for (const auto& s : steps) {
    if (s.index && node->is_array() && *s.index < node->size()) node = &(*node)[*s.index];
    else if (!s.index && node->is_object() && node->contains(s.key)) node = &(*node)[s.key];
    else return nullptr;
  }
  return node;
}

const json& resolve(const json& node) {
  if (node.is_object() && node.contains("$ref")) {
    const std::string ref = node["$ref"].get<std::string>();  // "#/definitions/x"
    return schema_document().at(json::json_pointer(ref.substr(1)));
  }
  return node;
}

// The subschemas that apply at a node: itself, the conditional branch its instance selects
// (only `if: {required: [...]}` is evaluated; other conditions keep both branches) and the
// alternatives of allOf / anyOf / oneOf.
void applicable(const json& raw, const json* instance, std::vector<const json*>& out) {
  const json& node = resolve(raw);
  out.push_back(&node);
  if (!node.is_object()) return;
  if (node.contains("if")) {
    const json& condition = node["if"];
    std::optional<bool> holds;
    if (condition.is_object() && condition.size() == 1 && condition.contains("required") && instance) {
      holds = instance->is_object();
      for (const auto& key : condition["required"]) holds = *holds && instance->contains(key.get<std::string>());
    }
    if (node.contains("then") && holds.value_or(true)) applicable(node["then"], instance, out);
    if (node.contains("else") && !holds.value_or(false)) applicable(node["else"], instance, out);
  }
  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
    if (node.contains(combinator)) {
      for (const auto& alternative : node[combinator]) applicable(alternative, instance, out);
    }
  }
}

// Schema nodes that describe the instance at `steps` (several when conditionals or
// alternatives add constraints), most general first.
std::vector<const json*> schema_nodes_at(const json& document, const std::vector<Step>& steps) {
  std::vector<const json*> current{&schema_document()};
  const json* instance = &document;
  for (const auto& step : steps) {
    std::vector<const json*> expanded;
    for (const json* node : current) applicable(*node, instance, expanded);
    std::vector<const json*> next;
    for (const json* node : expanded) {
      if (!node->is_object()) continue;
      if (step.index && node->contains("items") && (*node)["items"].is_object()) next.push_back(&(*node)["items"]);
      if (!step.index && node->contains("properties") && (*node)["properties"].contains(step.key)) {
        next.push_back(&(*node)["properties"][step.key]);
      }
    }
    current = std::move(next);
    if (instance) {
      if (step.index && instance->is_array() && *step.index < instance->size()) instance = &(*instance)[*step.index];
      else if (!step.index && instance->is_object() && instance->contains(step.key)) instance = &(*instance)[step.key];
      else instance = nullptr;
    }
  }
  std::vector<const json*> resolved;
  for (const json* node : current) resolved.push_back(&resolve(*node));
  return resolved;
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string join_values(const json& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + value_text(v);
  return out;
}

std::string describe(const json& raw);

std::string describe_number(const json& node, std::string_view noun) {
  std::string out = node.contains("multipleOf") ? fmt::format("a multiple of {}", node["multipleOf"].dump())
                                                : std::string(noun);
  const bool min = node.contains("minimum"), max = node.contains("maximum");
  if (min && max) return out + fmt::format(" from {} to {}", node["minimum"].dump(), node["maximum"].dump());
  if (node.contains("exclusiveMinimum")) out += fmt::format(" > {}", node["exclusiveMinimum"].dump());
  if (min) out += fmt::format(" >= {}", node["minimum"].dump());
  if (node.contains("exclusiveMinimum") && max) out += " and";
  if (max) out += fmt::format(" <= {}", node["maximum"].dump());
  return out;
}

std::string describe(const json& raw) {
  const json& node = resolve(raw);
  if (node.is_boolean()) return node.get<bool>() ? "any value" : "no value";
  if (node.contains("not")) {
    return node.contains("description") ? fmt::format("no such field ({})", node["description"].get<std::string>())
                                        : "no such field";
  }
  if (node.contains("const")) return node["const"].dump();
  if (node.contains("enum")) return "one of " + join_values(node["enum"]);
  for (const char* combinator : {"anyOf", "oneOf"}) {
    if (node.contains(combinator)) {
      std::string out;
      for (const auto& alternative : node[combinator]) out += (out.empty() ? "" : " or ") + describe(alternative);
      return out;
    }
  }
  const std::string type = node.value("type", "");
  if (type == "integer") return describe_number(node, "an integer");
  if (type == "number") return describe_number(node, "a number");
  if (type == "boolean") return "true or false";
  if (type == "string") {
    if (node.contains("pattern")) return fmt::format("a string matching {}", node["pattern"].get<std::string>());
    return node.value("minLength", 0) > 0 ? "a non-empty string" : "a string";
  }
  if (type == "array") {
    std::string out = node.value("minItems", 0) > 0 ? "a non-empty list" : "a list";
    if (node.value("uniqueItems", false)) out += " without repeats";
    if (node.contains("items")) out += ", each " + describe(node["items"]);
    return out;
  }
  if (type == "object") {
    std::string fields;
    if (node.contains("properties")) {
      for (const auto& [key, _] : node["properties"].items()) fields += (fields.empty() ? "" : ", ") + key;
    }
    return fields.empty() ? "an object" : fmt::format("an object with fields {}", fields);
  }
  return "a value the schema allows";
}

// The property name that ends valijson sentences such as "Missing required property 'tier'."
// (the last quoted text), when the sentence starts with `prefix`.
std::optional<std::string> property_in(std::string_view text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return std::nullopt;
  const auto end = text.rfind('\'');
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  const auto begin = text.rfind('\'', end - 1);
  if (begin == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(begin + 1, end - begin - 1));
}

// One violation in the mxguard wording.
struct Violation {
  std::vector<Step> steps;  // pointer of the offending (or missing) value
  std::string expected;
  std::string found;
};

std::string field_names(const std::vector<const json*>& nodes) {
  std::vector<std::string> names;
  for (const json* node : nodes) {
    if (!node->is_object() || !node->contains("properties")) continue;
    for (const auto& [key, _] : (*node)["properties"].items()) {
      if (std::find(names.begin(), names.end(), key) == names.end()) names.push_back(key);
    }
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

Violation translate(const valijson::ValidationResults::Error& error, const json& document) {
  Violation v;
  v.steps = steps_of(error.context, document);
  if (auto unknown = property_in(error.description, "Object contains a property that could not be validated")) {
    std::vector<const json*> object_nodes;
    for (const json* node : schema_nodes_at(document, v.steps)) applicable(*node, instance_at(document, v.steps), object_nodes);
    v.expected = fmt::format("one of the fields {}", field_names(object_nodes));
    v.found = fmt::format("unknown field \"{}\"", *unknown);
    v.steps.push_back({*unknown, std::nullopt});
    return v;
  }
  if (auto missing = property_in(error.description, "Missing required property")) {
    v.steps.push_back({*missing, std::nullopt});
    const auto nodes = schema_nodes_at(document, v.steps);
    v.expected = fmt::format("{} (a required field)", nodes.empty() ? std::string("a value") : describe(*nodes.front()));
    v.found = "nothing";
    return v;
  }
  const auto nodes = schema_nodes_at(document, v.steps);
  const bool forbidden = error.description.find("'not' constraint") != std::string::npos;
  const json* chosen = nodes.empty() ? nullptr : nodes.front();
  for (const json* node : nodes) {
    if (forbidden == (node->is_object() && node->contains("not"))) {
      chosen = node;
      break;
    }
  }
  v.expected = chosen ? describe(*chosen) : error.description;
  const json* found = instance_at(document, v.steps);
  v.found = found ? found_text(*found) : "nothing";
  return v;
}

}  // namespace

std::string_view case_schema_text() { return generated::kCaseSchemaText; }

std::string found_text(const json& value) {
  constexpr std::size_t kMax = 80;
  return json_read::show(value, kMax - 3);  // flat and short whatever the nesting
}

void throw_case_error(const std::filesystem::path& file, std::string_view pointer, std::string_view expected,
                      std::string_view found) {
  throw InputError(fmt::format("{}: {}: expected {}, found {}", file.string(), pointer.empty() ? "(root)" : pointer,
                               expected, found));
}

void validate_case_json(const json& document, const std::filesystem::path& file) {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(document);
  if (validator.validate(compiled_schema(), adapter, &results)) return;

  // Wrappers ("Failed to validate item #0 in array") follow their causes and sit higher, so
  // the deepest violation is the specific one.
  std::optional<Violation> best;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    Violation v = translate(error, document);
    if (!best || v.steps.size() > best->steps.size()) best = std::move(v);
  }
  throw_case_error(file, pointer_of(best->steps), best->expected, best->found);
}

}  // namespace mxg::matrix
