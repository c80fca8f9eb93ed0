// The one way mxguard turns untrusted text into JSON: bounded size, bounded nesting depth,
// duplicate keys refused, and error messages that show at most a short, flat excerpt of a value.
// Every reader of a file, an HTTP body or a protocol line goes through here, so a hostile input
// (100,000 nested brackets, a 26 MB header, {"a":1,"a":2}) ends in one InputError line, never a
// stack overflow, a quadratic parse or two readers disagreeing about which duplicate won.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mxg::json_read {

struct Limits {
  std::size_t max_bytes = std::size_t{256} << 20;  // text larger than this is refused unread
  int max_depth = 64;                              // objects/arrays nested deeper are refused
  bool allow_duplicate_keys = false;               // {"a":1,"a":2} is ambiguous: refused by default
};

// Parses `text`; any problem -> mxg::InputError "<source>: <what is wrong>" in one line.
// `source` names the file, option or endpoint the text came from.
nlohmann::json parse(std::string_view text, std::string_view source, const Limits& limits = {});
// ordered_json looks keys up linearly (insertion order is a vector): for documents whose objects
// hold a handful of keys; a safetensors header or any object with many members uses parse().
nlohmann::ordered_json parse_ordered(std::string_view text, std::string_view source, const Limits& limits = {});

// Reads a regular file (never blocks on a FIFO or a device) and parses it.
nlohmann::json parse_file(const std::string& path, const Limits& limits = {});
nlohmann::ordered_json parse_file_ordered(const std::string& path, const Limits& limits = {});

// A JSON value for an error message: compact, at most `max_chars` characters, nested values
// beyond a few levels shown as [...] / {...}. Never recurses deeper than a small fixed depth.
std::string show(const nlohmann::json& value, std::size_t max_chars = 80);
std::string show(const nlohmann::ordered_json& value, std::size_t max_chars = 80);

// `text` cut to at most `max_chars` characters for an error message (with "..." when cut).
std::string clip(std::string_view text, std::size_t max_chars = 200);

}  // namespace mxg::json_read
