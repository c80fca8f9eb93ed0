// JSON lines of the external protocol v2 (see worker_protocol.hpp).
#include "kernels/backend/worker_protocol.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::worker {
namespace {

using json = nlohmann::ordered_json;

// A value as shown in an error message: scalars as JSON, containers by their kind only (a
// message never prints a nested structure), long strings cut.
std::string shown(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

std::string cut(std::string_view line) {
  std::string text(line.substr(0, 80));
  if (line.size() > 80) text += "...";
  return text;
}

// Parses one message line with its size and nesting bounded, requiring an object whose "type" is `type`.
json parse_message(std::string_view line, std::string_view type) {
  if (line.size() > kMaxLineBytes) {
    throw InputError(fmt::format("{}: line of {} bytes, more than the protocol's {}", type, line.size(), kMaxLineBytes));
  }
  json j;
  try {
    j = json_read::parse(line, "not a JSON line", json_read::Limits{.max_bytes = kMaxLineBytes, .max_depth = kMaxDepth});
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}: '{}'", type, e.what(), cut(line)));
  }
  if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object, got '{}'", type, cut(line)));
  const auto t = j.find("type");
  if (t == j.end() || !t->is_string() || t->get<std::string>() != type) {
    throw InputError(fmt::format("{}: field 'type': expected \"{}\", got {}", type, type,
                                 t == j.end() ? std::string("nothing") : shown(*t)));
  }
  return j;
}

std::string string_field(const json& j, std::string_view type, const char* field, bool required, bool non_empty) {
  const auto it = j.find(field);
  if (it == j.end()) {
    if (required) throw InputError(fmt::format("{}: field '{}' is missing", type, field));
    return {};
  }
  if (!it->is_string()) throw InputError(fmt::format("{}: field '{}': expected a string, got {}", type, field, shown(*it)));
  std::string value = it->get<std::string>();
  if (non_empty && value.empty()) throw InputError(fmt::format("{}: field '{}' is empty", type, field));
  return value;
}

std::string dump_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string format_hello(const Hello& h) {
  json j;
  j["type"] = "hello";
  j["protocol"] = std::string(kProtocol);
  j["kernel"] = h.kernel;
  j["kernel_version"] = h.kernel_version;
  j["device"] = h.device;
  j["versions"] = json::object();
  for (const auto& [name, version] : h.versions) j["versions"][name] = version;
  return dump_line(j);
}

std::string format_request(const Request& r) {
  json j;
  j["type"] = "run";
  j["id"] = r.id;
  j["problem"] = r.problem;
  j["output"] = r.output;
  return dump_line(j);
}

std::string format_response(const Response& r) {
  json j;
  j["type"] = "result";
  j["id"] = r.id;
  j["status"] = r.ok ? "ok" : "error";
  if (!r.ok) {
    j["message"] = r.message;
    if (r.fatal) j["fatal"] = true;
  }
  return dump_line(j);
}

Hello parse_hello(std::string_view line) {
  const json j = parse_message(line, "hello");
  const std::string protocol = string_field(j, "hello", "protocol", true, true);
  if (protocol != kProtocol) {
    throw InputError(fmt::format("hello: field 'protocol': the worker speaks \"{}\", this mxguard speaks \"{}\"",
                                 cut(protocol), kProtocol));
  }
  Hello h;
  h.kernel = string_field(j, "hello", "kernel", true, true);
  h.kernel_version = string_field(j, "hello", "kernel_version", false, false);
  h.device = string_field(j, "hello", "device", false, false);
  if (const auto v = j.find("versions"); v != j.end()) {
    if (!v->is_object()) throw InputError(fmt::format("hello: field 'versions': expected an object, got {}", shown(*v)));
    for (const auto& [name, version] : v->items()) {
      if (!version.is_string()) {
        throw InputError(fmt::format("hello: field 'versions.{}': expected a string, got {}", name, shown(version)));
      }
      h.versions[name] = version.get<std::string>();
    }
  }
  return h;
}

Request parse_request(std::string_view line) {
  const json j = parse_message(line, "run");
  return {string_field(j, "run", "id", true, false), string_field(j, "run", "problem", true, true),
          string_field(j, "run", "output", true, true)};
}

Response parse_response(std::string_view line) {
  const json j = parse_message(line, "result");
  Response r;
  r.id = string_field(j, "result", "id", true, false);
  const std::string status = string_field(j, "result", "status", true, true);
  if (status != "ok" && status != "error") {
    throw InputError(fmt::format("result: field 'status': expected \"ok\" or \"error\", got \"{}\"", cut(status)));
  }
  r.ok = status == "ok";
  if (!r.ok) {
    r.message = string_field(j, "result", "message", false, false);
    if (const auto f = j.find("fatal"); f != j.end()) {
      if (!f->is_boolean()) throw InputError(fmt::format("result: field 'fatal': expected true or false, got {}", shown(*f)));
      r.fatal = f->get<bool>();
    }
  }
  return r;
}

}  // namespace mxg::worker
