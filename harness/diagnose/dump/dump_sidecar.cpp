// Sidecar reader: every field is checked for presence, type and range, unknown fields are refused
// (a misspelt "is_shufled" must not silently read as "not set"), and each message names the file,
// the field and its value.
#include "harness/diagnose/dump/dump_sidecar.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"

namespace mxg::diagnose {

namespace {

using ojson = nlohmann::ordered_json;

constexpr std::size_t kMaxShown = 80;
constexpr std::uintmax_t kMaxSidecarBytes = 16u << 20;  // a sidecar is a few KB; refuse anything absurd

// The keys of a version-1 sidecar and of one entry of its "tensors".
const std::vector<std::string_view> kTopKeys = {
    "format", "version", "created_by", "framework", "layer", "module", "module_class", "module_attributes", "gate_mode",
    "gate_mode_source", "tp_size", "tp_rank", "ep_size", "ep_rank", "environment", "tensors"};
const std::vector<std::string_view> kTensorKeys = {"parameter",   "dtype_in_process", "shape_in_process",
                                                   "dtype_saved", "shape_saved",      "is_shuffled",
                                                   "attributes"};

std::string show(const ojson& v) { return json_read::show(v, kMaxShown); }

// Reports problems as "FILE: field 'F' = VALUE WHAT" (or "FILE: field 'F' WHAT" without a value).
class Checker {
 public:
  explicit Checker(const std::filesystem::path& label) : label_(label) {}

  [[noreturn]] void fail(std::string_view what) const { throw InputError(fmt::format("{}: {}", label_.string(), what)); }
  [[noreturn]] void fail(std::string_view field, const ojson& value, std::string_view what) const {
    fail(fmt::format("field '{}' = {} {}", field, show(value), what));
  }

  // The field's value, or nullptr when the key is absent or null.
  static const ojson* optional(const ojson& object, std::string_view key) {
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }
  const ojson& required(const ojson& object, std::string_view key, std::string_view field) const {
    const ojson* v = optional(object, key);
    if (!v) fail(fmt::format("field '{}' is missing", field));
    return *v;
  }

  std::string string(const ojson& v, std::string_view field, bool may_be_empty = false) const {
    if (!v.is_string()) fail(field, v, "is not a string");
    std::string s = v.get<std::string>();
    if (s.empty() && !may_be_empty) fail(field, v, "is empty");
    return s;
  }
  std::int64_t integer(const ojson& v, std::string_view field, std::int64_t min) const {
    if (!v.is_number_integer()) fail(field, v, "is not an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      fail(field, v, "is too large");
    }
    const auto i = v.get<std::int64_t>();
    if (i < min) fail(field, v, fmt::format("must be >= {}", min));
    return i;
  }
  Shape shape(const ojson& v, std::string_view field) const {
    if (!v.is_array()) fail(field, v, "is not a list of dimensions");
    Shape s;
    for (std::size_t i = 0; i < v.size(); ++i) s.push_back(integer(v[i], fmt::format("{}[{}]", field, i), 0));
    return s;
  }
  void only_keys(const ojson& object, const std::vector<std::string_view>& known, std::string_view where) const {
    for (const auto& [key, value] : object.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        fail(fmt::format("field '{}{}' is not part of a version {} sidecar (known: {})", where, key,
                         kDumpSidecarVersion, fmt::join(known, ", ")));
      }
    }
  }

 private:
  std::filesystem::path label_;
};

// Parses JSON through the bounded reader: duplicate keys refused at any depth (parsers keep the last
// silently), nesting and size bounded.
ojson parse_json(const Checker& c, std::string_view text) {
  ojson doc;
  try {
    doc = json_read::parse_ordered(text, "JSON");
  } catch (const InputError& e) {
    std::string_view what = e.what();
    what.remove_prefix(std::string_view("JSON: ").size());
    c.fail(std::string(what));
  }
  if (!doc.is_object()) c.fail(fmt::format("not a JSON object: {}", show(doc)));
  return doc;
}

SidecarTensor parse_tensor(const Checker& c, const std::string& name, const ojson& entry) {
  const std::string where = fmt::format("tensors['{}']", name);
  auto field = [&](std::string_view key) { return fmt::format("{}.{}", where, key); };
  if (!entry.is_object()) c.fail(where, entry, "is not an object");
  c.only_keys(entry, kTensorKeys, where + ".");
  SidecarTensor t;
  t.name = name;
  t.parameter = c.string(c.required(entry, "parameter", field("parameter")), field("parameter"));
  t.dtype_in_process =
      c.string(c.required(entry, "dtype_in_process", field("dtype_in_process")), field("dtype_in_process"));
  t.shape_in_process = c.shape(c.required(entry, "shape_in_process", field("shape_in_process")), field("shape_in_process"));
  const ojson& saved = c.required(entry, "dtype_saved", field("dtype_saved"));
  t.dtype_saved = c.string(saved, field("dtype_saved"));
  if (!parse_dtype(t.dtype_saved)) {
    c.fail(field("dtype_saved"), saved, "is not a safetensors dtype mxguard reads (U8, I8, I16, I32, I64, F16, BF16, F32, F64)");
  }
  t.shape_saved = c.shape(c.required(entry, "shape_saved", field("shape_saved")), field("shape_saved"));
  if (const ojson* s = Checker::optional(entry, "is_shuffled")) {
    if (!s->is_boolean()) c.fail(field("is_shuffled"), *s, "is not true, false or null");
    t.is_shuffled = s->get<bool>();
  }
  if (const ojson* a = Checker::optional(entry, "attributes")) {
    if (!a->is_object()) c.fail(field("attributes"), *a, "is not an object");
    t.attributes = nlohmann::json::parse(a->dump());
  }
  return t;
}

// tp_size / tp_rank (or ep_*): sizes >= 1, 0 <= rank < size, a rank only with its size.
void parse_parallel(const Checker& c, const ojson& doc, const char* size_key, const char* rank_key,
                    std::optional<std::int64_t>& size, std::optional<std::int64_t>& rank) {
  // The same bound as --tp/--ep (harness/cli_limits.hpp): the search's work grows with the size.
  constexpr std::int64_t kMaxParallel = 1024;
  if (const ojson* v = Checker::optional(doc, size_key)) {
    size = c.integer(*v, size_key, 1);
    if (*size > kMaxParallel) c.fail(size_key, *v, fmt::format("is above {}", kMaxParallel));
  }
  if (const ojson* v = Checker::optional(doc, rank_key)) {
    rank = c.integer(*v, rank_key, 0);
    if (!size) c.fail(rank_key, *v, fmt::format("is given without {}", size_key));
    if (*rank >= *size) c.fail(rank_key, *v, fmt::format("must be < {} {}", size_key, *size));
  }
}

}  // namespace

DumpSidecar parse_dump_sidecar(std::string_view json_text, const std::filesystem::path& label) {
  const Checker c(label);
  const ojson doc = parse_json(c, json_text);
  c.only_keys(doc, kTopKeys, "");

  const ojson& format = c.required(doc, "format", "format");
  if (!format.is_string() || format.get<std::string>() != kDumpSidecarFormat) {
    c.fail("format", format, fmt::format("is not \"{}\" (not an mxguard dump sidecar)", kDumpSidecarFormat));
  }
  const ojson& version = c.required(doc, "version", "version");
  if (!version.is_number_integer() || version.get<std::int64_t>() != kDumpSidecarVersion) {
    c.fail("version", version,
           fmt::format("is not supported (this mxguard reads version {}; update mxguard or the dump tool so they "
                       "match)",
                       kDumpSidecarVersion));
  }

  DumpSidecar s;
  s.path = label;
  s.version = kDumpSidecarVersion;
  if (const ojson* v = Checker::optional(doc, "created_by")) c.string(*v, "created_by", true);
  s.framework = c.string(c.required(doc, "framework", "framework"), "framework");
  if (const ojson* v = Checker::optional(doc, "layer")) s.layer = c.integer(*v, "layer", 0);
  s.module = c.string(c.required(doc, "module", "module"), "module", true);
  if (const ojson* v = Checker::optional(doc, "module_class")) s.module_class = c.string(*v, "module_class", true);
  if (const ojson* v = Checker::optional(doc, "module_attributes")) {
    if (!v->is_object()) c.fail("module_attributes", *v, "is not an object");
    s.module_attributes = nlohmann::json::parse(v->dump());
  }
  if (const ojson* v = Checker::optional(doc, "gate_mode")) {
    const std::string mode = c.string(*v, "gate_mode");
    if (mode == gate_mode_name(GateMode::Separated)) {
      s.gate_mode = GateMode::Separated;
    } else if (mode == gate_mode_name(GateMode::Interleave)) {
      s.gate_mode = GateMode::Interleave;
    } else {
      c.fail("gate_mode", *v, "is not \"separated\", \"interleave\" or null");
    }
  }
  if (const ojson* v = Checker::optional(doc, "gate_mode_source")) {
    s.gate_mode_source = c.string(*v, "gate_mode_source", true);
  }
  parse_parallel(c, doc, "tp_size", "tp_rank", s.tp_size, s.tp_rank);
  parse_parallel(c, doc, "ep_size", "ep_rank", s.ep_size, s.ep_rank);
  if (const ojson* env = Checker::optional(doc, "environment")) {
    if (!env->is_object()) c.fail("environment", *env, "is not an object");
    for (const auto& [key, value] : env->items()) {
      s.environment.emplace(key, c.string(value, fmt::format("environment.{}", key), true));
    }
  }

  const ojson& tensors = c.required(doc, "tensors", "tensors");
  if (!tensors.is_object()) c.fail("tensors", tensors, "is not an object");
  if (tensors.empty()) c.fail("tensors", tensors, "is empty: the dump holds no tensor");
  for (const auto& [name, entry] : tensors.items()) s.tensors.push_back(parse_tensor(c, name, entry));
  return s;
}

DumpSidecar read_dump_sidecar(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(fmt::format("{}: cannot read: {}", path.string(), ec.message()));
  if (size > kMaxSidecarBytes) {
    throw InputError(fmt::format("{}: {} bytes is too large for a dump sidecar (limit {})", path.string(), size,
                                 kMaxSidecarBytes));
  }
  return parse_dump_sidecar(read_regular_file(path, path.string(), kMaxSidecarBytes), path);
}

std::filesystem::path dump_sidecar_path(const std::filesystem::path& dump_path) {
  std::filesystem::path p = dump_path;
  p += ".json";
  return p;
}

std::optional<DumpSidecar> find_dump_sidecar(const std::filesystem::path& dump_path) {
  const std::filesystem::path p = dump_sidecar_path(dump_path);
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  return read_dump_sidecar(p);
}

const SidecarTensor* tensor_info(const DumpSidecar& sidecar, std::string_view dump_tensor_name) {
  for (const SidecarTensor& t : sidecar.tensors) {
    if (t.name == dump_tensor_name) return &t;
  }
  const SidecarTensor* found = nullptr;
  for (const SidecarTensor& t : sidecar.tensors) {
    const bool suffix = t.name.size() > dump_tensor_name.size() && t.name.ends_with(dump_tensor_name) &&
                        t.name[t.name.size() - dump_tensor_name.size() - 1] == '.';
    if (suffix || t.parameter == dump_tensor_name) {
      if (found) return nullptr;  // ambiguous
      found = &t;
    }
  }
  return found;
}

void check_sidecar_matches(const DumpSidecar& sidecar, const SidecarTensor& info, const Tensor& tensor) {
  if (info.dtype_saved == dtype_name(tensor.dtype()) && info.shape_saved == tensor.shape()) return;
  throw InputError(fmt::format(
      "{}: tensor '{}': the sidecar says {} {}, the dump holds {} {} (a sidecar left over from another dump?)",
      sidecar.path.string(), info.name, info.dtype_saved, shape_string(info.shape_saved), dtype_name(tensor.dtype()),
      shape_string(tensor.shape())));
}

}  // namespace mxg::diagnose
