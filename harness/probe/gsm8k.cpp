// GSM8K JSON Lines: strict line-by-line parser (every error names source, line and field), file
// loader and writer in the upstream files' own layout.
#include "harness/probe/gsm8k.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"

namespace mxg::probe {
namespace {

constexpr std::size_t kExcerptChars = 60;

// A short, single-line rendering of a value for an error message: control characters are escaped
// so that the message stays one line, and long values are cut (the line number locates the rest).
std::string excerpt(std::string_view text) {
  std::size_t cut = std::min(text.size(), kExcerptChars);
  while (cut < text.size() && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8
  std::string out;
  for (const char c : text.substr(0, cut)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  if (cut < text.size()) out += "...";
  return out;
}

[[noreturn]] void fail(const std::string& source, std::int64_t line, std::string_view field,
                       std::string_view problem, std::string_view value) {
  throw InputError(fmt::format("{}:{}: {}: {} ({})", source, line, field, problem, excerpt(value)));
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// The integer of a final "#### N" line: an optional '-', then digits with single commas only between
// digits ("1,234"), no leading zero unless the number is 0. Leading zeros are refused because
// SGLang's scorer reads the label with Python's literal_eval, for which "007" is a syntax error.
bool is_label_integer(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || !is_digit(s.front()) || !is_digit(s.back())) return false;
  if (s.front() == '0' && s.size() > 1) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_digit(s[i])) continue;
    if (s[i] != ',' || !is_digit(s[i + 1])) return false;  // back() is a digit, so i + 1 is in range
  }
  return true;
}

// The answer must end in a line "#### <integer>" (trailing whitespace tolerated), as every GSM8K
// answer does: the lm-eval reference is the text after the last "####" and SGLang's is the last
// integer, so anything after the label would change either.
void check_answer(const std::string& answer, const std::string& source, std::int64_t line) {
  const std::string_view body = trim(answer);
  const std::size_t line_start = body.rfind('\n') == std::string_view::npos ? 0 : body.rfind('\n') + 1;
  const std::string_view last_line = body.substr(line_start);
  if (last_line.substr(0, 4) != "####") {
    fail(source, line, "answer", "no final \"#### N\" line", last_line);
  }
  const std::string_view label = trim(last_line.substr(4));
  if (!is_label_integer(label)) {
    fail(source, line, "answer", "final \"####\" line is not an integer", last_line);
  }
}

std::string string_field(const nlohmann::json& object, const char* key, const std::string& source,
                         std::int64_t line, std::string_view raw_line) {
  const auto it = object.find(key);
  if (it == object.end()) fail(source, line, key, "missing field", raw_line);
  if (!it->is_string()) {
    fail(source, line, key, fmt::format("not a string but {}", it->type_name()), json_read::show(*it));
  }
  return it->get<std::string>();
}

Gsm8kItem parse_line(std::string_view text, const std::string& source, std::int64_t line) {
  nlohmann::json object;
  try {
    object = json_read::parse(text, "JSON");  // bounded: depth, size, duplicate keys
  } catch (const InputError& e) {
    std::string_view what = e.what();
    if (what.starts_with("JSON: ")) what.remove_prefix(6);
    fail(source, line, "line", what, text);
  }
  if (!object.is_object()) fail(source, line, "line", fmt::format("not a JSON object but {}", object.type_name()), text);
  Gsm8kItem item;
  item.question = string_field(object, "question", source, line, text);
  item.answer = string_field(object, "answer", source, line, text);
  item.line = line;
  check_answer(item.answer, source, line);
  return item;
}

}  // namespace

std::vector<Gsm8kItem> parse_gsm8k_jsonl(std::string_view text, const std::string& source) {
  std::vector<Gsm8kItem> items;
  std::int64_t line_number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    if (trim(line).empty() || line.front() == '#') continue;
    items.push_back(parse_line(line, source, line_number));
  }
  if (items.empty()) {
    throw InputError(fmt::format("{}:{}: file: no GSM8K example (empty, or only blank and '#' lines)", source,
                                 line_number));
  }
  return items;
}

std::vector<Gsm8kItem> load_gsm8k_jsonl(const std::filesystem::path& path) {
  // Regular files only (a FIFO would block), at most 1 GiB.
  const std::string bytes = read_regular_file(path, fmt::format("{}: data", path.string()));
  return parse_gsm8k_jsonl(bytes, path.string());
}

std::string to_gsm8k_jsonl(const std::vector<Gsm8kItem>& items) {
  // Written by hand rather than through a JSON object so that the keys keep the upstream order
  // (question first) and separators (", " and ": "); ensure_ascii gives the \uXXXX escapes.
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto quoted = [&](const std::string& value, std::string_view field) {
      try {
        return nlohmann::json(value).dump(-1, ' ', /*ensure_ascii=*/true);
      } catch (const nlohmann::json::exception&) {
        throw InputError(fmt::format("item {}: {}: not valid UTF-8 ({})", i, field, excerpt(value)));
      }
    };
    out += "{\"question\": ";
    out += quoted(items[i].question, "question");
    out += ", \"answer\": ";
    out += quoted(items[i].answer, "answer");
    out += "}\n";
  }
  return out;
}

}  // namespace mxg::probe
