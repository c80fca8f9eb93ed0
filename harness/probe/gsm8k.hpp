// GSM8K JSON Lines: the dataset record, its strict loader (file:line in every error) and writer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::probe {

// One GSM8K example. `answer` is the raw worked solution ending in a line "#### N".
struct Gsm8kItem {
  std::string question;
  std::string answer;
  std::int64_t line = 0;  // 1-based line in the source file (0 for generated items)
};

// Parses GSM8K JSON Lines. Skips blank lines and lines starting with '#' (as SGLang's reader does).
// Every other line must be a JSON object with string fields "question" and "answer" (other keys are
// ignored) whose answer carries a "#### <integer>" final line (commas and a leading minus allowed).
// Anything else -> mxg::InputError "<source>:<line>: <field>: <what is wrong> (<value excerpt>)".
// An input with no example at all is an error too.
std::vector<Gsm8kItem> parse_gsm8k_jsonl(std::string_view text, const std::string& source);

// Reads and parses a file (memory-mapped or read whole); cannot open -> mxg::InputError naming it.
std::vector<Gsm8kItem> load_gsm8k_jsonl(const std::filesystem::path& path);

// One compact JSON object per line, keys "question" then "answer", non-ASCII written as \uXXXX
// (like the upstream files), '\n' after every line.
std::string to_gsm8k_jsonl(const std::vector<Gsm8kItem>& items);

}  // namespace mxg::probe
