// Answer extraction and scoring: SGLang's last-integer rule (the default, bit-for-bit parity) and
// lm-eval's gsm8k strict-match and flexible-extract filters. Also the degenerate-output detector.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mxg::probe {

enum class Extractor {
  Sglang,           // remove every ',', last match of \d+ as an integer (minus signs are lost on both sides)
  StrictMatch,      // lm-eval: first "#### (-?[0-9.,]+)"
  FlexibleExtract,  // lm-eval: last match of (-?[$0-9.,]{2,})|(-?[0-9]+)
};
std::string_view extractor_name(Extractor e);                   // "sglang", "strict-match", "flexible-extract"
std::optional<Extractor> parse_extractor(std::string_view name);  // inverse; nullopt if unknown

// The prediction extracted from a model response, normalised so that equal answers compare equal
// as strings (SGLang: decimal digits without leading zeros; lm-eval: after its ignore-regexes
// ",", "$", "(?s).*#### ", "\.$"). nullopt = invalid (no number found).
std::optional<std::string> extract_prediction(Extractor e, std::string_view response);

// The reference label of a GSM8K answer under the same rules (SGLang: the answer text goes through
// the same last-integer function; lm-eval: the text after the last "####", stripped, then the
// ignore-regexes). Never empty for an answer that parse_gsm8k_jsonl accepted.
std::string reference_label(Extractor e, std::string_view gsm8k_answer);

// SGLang's invalid marker, written in place of a missing prediction in SGLang-compatible output.
inline constexpr long long kSglangInvalid = -9999999;

// A response that says nothing: digit soup (mostly digits and symbols, few letters) or one fragment
// repeated over and over. These show up when a layout bug has scrambled the weights, often before the
// accuracy has moved much on easy questions. Thresholds are documented in extract.cpp.
bool is_degenerate(std::string_view response);

}  // namespace mxg::probe
