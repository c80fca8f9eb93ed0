// Answer extraction: SGLang's last-integer rule, lm-eval's strict-match and flexible-extract filters
// with its ignore-regexes, the reference labels, and the degenerate-output detector.
//
// The patterns are hand-written scanners rather than std::regex: the probe scores thousands of
// responses a second, std::regex is slow and recursive (long digit runs can exhaust the stack in
// libstdc++'s backtracking executor), and SGLang's \d is Python's Unicode-aware class, which
// std::regex cannot express. extract_test checks each scanner against std::regex on random strings.
#include "harness/probe/extract.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

namespace mxg::probe {
namespace {

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
bool is_ascii_punct(char c) { return c > ' ' && c < 0x7F && !is_ascii_digit(c) && !is_ascii_letter(c); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// ---- UTF-8 -----------------------------------------------------------------------------------

struct CodePoint {
  std::uint32_t value;
  std::size_t length;  // bytes
};

// Decodes the code point at `at`. A malformed sequence reads as one byte U+FFFD: the server sends
// JSON strings, so responses are valid UTF-8 and this only keeps the scanners total.
CodePoint decode_utf8(std::string_view s, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = 0;
  std::uint32_t value = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    value = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    value = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    value = lead & 0x07;
  } else {
    return {0xFFFD, 1};
  }
  if (at + length > s.size()) return {0xFFFD, 1};
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return {0xFFFD, 1};
    value = (value << 6) | (byte(at + i) & 0x3F);
  }
  return {value, length};
}

// Non-ASCII code points of Unicode category Nd (decimal digits), which Python's \d also matches in a
// str pattern. Generated from Python 3.11's unicodedata (Unicode 14.0): every Nd code point >= 0x80,
// merged into ranges.
constexpr std::array<std::pair<std::uint32_t, std::uint32_t>, 61> kNonAsciiDecimalDigits{{
    {0x660, 0x669},     {0x6F0, 0x6F9},     {0x7C0, 0x7C9},     {0x966, 0x96F},     {0x9E6, 0x9EF},
    {0xA66, 0xA6F},     {0xAE6, 0xAEF},     {0xB66, 0xB6F},     {0xBE6, 0xBEF},     {0xC66, 0xC6F},
    {0xCE6, 0xCEF},     {0xD66, 0xD6F},     {0xDE6, 0xDEF},     {0xE50, 0xE59},     {0xED0, 0xED9},
    {0xF20, 0xF29},     {0x1040, 0x1049},   {0x1090, 0x1099},   {0x17E0, 0x17E9},   {0x1810, 0x1819},
    {0x1946, 0x194F},   {0x19D0, 0x19D9},   {0x1A80, 0x1A89},   {0x1A90, 0x1A99},   {0x1B50, 0x1B59},
    {0x1BB0, 0x1BB9},   {0x1C40, 0x1C49},   {0x1C50, 0x1C59},   {0xA620, 0xA629},   {0xA8D0, 0xA8D9},
    {0xA900, 0xA909},   {0xA9D0, 0xA9D9},   {0xA9F0, 0xA9F9},   {0xAA50, 0xAA59},   {0xABF0, 0xABF9},
    {0xFF10, 0xFF19},   {0x104A0, 0x104A9}, {0x10D30, 0x10D39}, {0x11066, 0x1106F}, {0x110F0, 0x110F9},
    {0x11136, 0x1113F}, {0x111D0, 0x111D9}, {0x112F0, 0x112F9}, {0x11450, 0x11459}, {0x114D0, 0x114D9},
    {0x11650, 0x11659}, {0x116C0, 0x116C9}, {0x11730, 0x11739}, {0x118E0, 0x118E9}, {0x11950, 0x11959},
    {0x11C50, 0x11C59}, {0x11D50, 0x11D59}, {0x11DA0, 0x11DA9}, {0x16A60, 0x16A69}, {0x16AC0, 0x16AC9},
    {0x16B50, 0x16B59}, {0x1D7CE, 0x1D7FF}, {0x1E140, 0x1E149}, {0x1E2F0, 0x1E2F9}, {0x1E950, 0x1E959},
    {0x1FBF0, 0x1FBF9},
}};

bool is_non_ascii_decimal_digit(std::uint32_t cp) {
  const auto it = std::upper_bound(kNonAsciiDecimalDigits.begin(), kNonAsciiDecimalDigits.end(), cp,
                                   [](std::uint32_t v, const auto& range) { return v < range.first; });
  return it != kNonAsciiDecimalDigits.begin() && cp <= std::prev(it)->second;
}

// Python's str.isspace() code points, which str.strip() removes (lm-eval strips its target).
bool is_python_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// Python's str.strip() on UTF-8 text.
std::string_view python_strip(std::string_view s) {
  while (!s.empty()) {
    const CodePoint cp = decode_utf8(s, 0);
    if (!is_python_space(cp.value)) break;
    s.remove_prefix(cp.length);
  }
  while (!s.empty()) {
    std::size_t start = s.size() - 1;  // back over continuation bytes to the last code point's lead
    while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const CodePoint cp = decode_utf8(s, start);
    if (start + cp.length != s.size() || !is_python_space(cp.value)) break;
    s.remove_suffix(cp.length);
  }
  return s;
}

// ---- SGLang ----------------------------------------------------------------------------------

// CPython (>= 3.11) refuses to convert integer literals longer than this (sys.int_info
// default_max_str_digits); literal_eval reports it as a SyntaxError, which SGLang scores as invalid.
constexpr std::size_t kPythonMaxIntDigits = 4300;

// SGLang: s.replace(",", ""), re.findall(r"\d+", s)[-1], ast.literal_eval. Removing the commas joins
// the digits on either side, so a run continues across commas. literal_eval fails (-> invalid) on a
// run holding a non-ASCII digit, on a leading zero ("007"; "000" is fine, it is 0) and beyond
// CPython's digit limit. The result is the integer's decimal digits.
std::optional<std::string> sglang_last_integer(std::string_view text) {
  bool in_run = false;
  bool found = false;
  std::size_t run_start = 0;
  std::size_t run_end = 0;
  bool run_has_non_ascii = false;
  for (std::size_t at = 0; at < text.size();) {
    const char c = text[at];
    if (c == ',') {  // removed before matching: neither ends nor starts a run
      ++at;
      continue;
    }
    std::size_t length = 1;
    bool digit = is_ascii_digit(c);
    bool non_ascii_digit = false;
    if (static_cast<unsigned char>(c) >= 0x80) {
      const CodePoint cp = decode_utf8(text, at);
      length = cp.length;
      non_ascii_digit = digit = is_non_ascii_decimal_digit(cp.value);
    }
    if (digit) {
      if (!in_run) {
        in_run = true;
        found = true;
        run_start = at;
        run_has_non_ascii = false;
      }
      run_has_non_ascii = run_has_non_ascii || non_ascii_digit;
      run_end = at + length;
    } else {
      in_run = false;
    }
    at += length;
  }
  if (!found || run_has_non_ascii) return std::nullopt;
  std::string digits;
  for (const char c : text.substr(run_start, run_end - run_start)) {
    if (c != ',') digits += c;
  }
  const bool all_zero = digits.find_first_not_of('0') == std::string::npos;
  if (all_zero) return std::string("0");
  if (digits.front() == '0' || digits.size() > kPythonMaxIntDigits) return std::nullopt;
  return digits;
}

// ---- lm-eval ---------------------------------------------------------------------------------

// lm-eval gsm8k's exact_match ignore-regexes, in order: ",", "\$", "(?s).*#### " (everything up to
// and including the last "#### "), "\.$" (one '.' at the end or before a final newline, Python's
// '$'); then surrounding whitespace goes (Python's whitespace, as str.strip: the extracted groups
// never hold any, and for a target it only matters if a rule exposed some). lm-eval's ignore_case
// lowercasing cannot change the digits and symbols these filters produce, nor a GSM8K label, so it
// is left out.
std::string lm_eval_normalise(std::string_view raw) {
  std::string s;
  s.reserve(raw.size());
  for (const char c : raw) {
    if (c != ',' && c != '$') s += c;
  }
  if (const std::size_t hashes = s.rfind("#### "); hashes != std::string::npos) s.erase(0, hashes + 5);
  if (!s.empty() && s.back() == '.') {
    s.pop_back();
  } else if (s.size() >= 2 && s.back() == '\n' && s[s.size() - 2] == '.') {
    s.erase(s.size() - 2, 1);
  }
  return std::string(python_strip(s));
}

bool in_number_class(char c) { return is_ascii_digit(c) || c == '.' || c == ','; }             // [0-9.,]
bool in_money_class(char c) { return is_ascii_digit(c) || c == '.' || c == ',' || c == '$'; }  // [$0-9.,]

template <typename Pred>
std::size_t run_length(std::string_view s, std::size_t from, Pred in_class) {
  std::size_t end = from;
  while (end < s.size() && in_class(s[end])) ++end;
  return end - from;
}

// First match of "#### (\-?[0-9\.\,]+)", group 1. At each "#### " the optional '-' is tried first;
// if no [0-9.,] follows it, the pattern backtracks to no '-' and fails there ('-' is not in the class).
std::optional<std::string_view> strict_match(std::string_view text) {
  for (std::size_t at = text.find("#### "); at != std::string_view::npos; at = text.find("#### ", at + 1)) {
    const std::size_t group = at + 5;
    const std::size_t sign = group < text.size() && text[group] == '-' ? 1 : 0;
    const std::size_t digits = run_length(text, group + sign, in_number_class);
    if (digits > 0) return text.substr(group, sign + digits);
  }
  return std::nullopt;
}

// Last match of "(-?[$0-9.,]{2,})|(-?[0-9]+)" under findall's leftmost-first, non-overlapping scan.
// Exactly one group participates in a match, so the whole match is that group.
std::optional<std::string_view> flexible_extract(std::string_view text) {
  std::optional<std::string_view> last;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t length = 0;
    const bool minus = text[at] == '-';
    if (minus) {
      // Alternative 1 with the '-', then (the class excludes '-') alternative 2 with it.
      if (const std::size_t run = run_length(text, at + 1, in_money_class); run >= 2) {
        length = 1 + run;
      } else if (const std::size_t digits = run_length(text, at + 1, is_ascii_digit); digits >= 1) {
        length = 1 + digits;
      }
    } else if (const std::size_t run = run_length(text, at, in_money_class); run >= 2) {
      length = run;
    } else if (is_ascii_digit(text[at])) {
      length = 1;  // a lone digit: alternative 1 needed two class characters
    }
    if (length == 0) {
      ++at;
    } else {
      last = text.substr(at, length);
      at += length;
    }
  }
  return last;
}

// ---- degenerate output -----------------------------------------------------------------------

// Digit soup: measured over the lines that are not worked arithmetic, after removing "<<a*b=c>>"
// calculator annotations (a GSM8K solution may be nothing but equations such as "5*4=<<5*4=20>>20").
// It is soup when at least kSoupMinChars non-space code points remain, at least 60% of them are ASCII
// digits or punctuation and at most 10% are letters (ASCII letters and any non-ASCII code point,
// so that text in other scripts never counts as soup).
constexpr std::size_t kSoupMinChars = 40;
constexpr double kSoupMinSymbolShare = 0.6;
constexpr double kSoupMaxLetterShare = 0.1;
// A worked-arithmetic line: 1..3 '=' signs, at most this long, and only digits, spaces and the
// symbols of arithmetic (so "12 / 4 = 3" is excluded from the soup measure, "7=7=7=7=7=7" is not).
constexpr std::size_t kEquationMaxBytes = 100;
constexpr int kEquationMaxEquals = 3;
// Repetition: a fragment of 1..40 bytes repeated at least 4 times back to back at the very end of
// the response (a greedy decoder that starts looping loops until max_new_tokens), the repeated
// stretch being at least 16 bytes and covering at least 60% of the last 256 bytes (or of the whole
// response, if shorter). "#### 1000" or "\n\n" after an answer stay far below these.
constexpr std::size_t kRepeatMaxPeriod = 40;
constexpr std::size_t kRepeatMinCopies = 4;
constexpr std::size_t kRepeatMinBytes = 16;
constexpr std::size_t kRepeatTailBytes = 256;
constexpr double kRepeatMinTailShare = 0.6;

std::string without_annotations(std::string_view line) {
  std::string out;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t open = line.find("<<", at);
    const std::size_t close = open == std::string_view::npos ? open : line.find(">>", open + 2);
    if (close == std::string_view::npos) {
      out.append(line.substr(at));
      break;
    }
    out.append(line.substr(at, open - at));
    at = close + 2;
  }
  return out;
}

bool is_equation_line(std::string_view line) {
  if (line.size() > kEquationMaxBytes) return false;
  int equals = 0;
  bool digit = false;
  for (const char c : line) {
    if (c == '=') {
      ++equals;
    } else if (is_ascii_digit(c)) {
      digit = true;
    } else if (!is_ascii_space(c) && std::string_view("+-*/x().,$%").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return digit && equals >= 1 && equals <= kEquationMaxEquals;
}

bool is_digit_soup(std::string_view response) {
  std::size_t measured = 0;
  std::size_t symbols = 0;
  std::size_t letters = 0;
  std::size_t pos = 0;
  while (pos <= response.size()) {
    const std::size_t end = std::min(response.find('\n', pos), response.size());
    const std::string line = without_annotations(response.substr(pos, end - pos));
    pos = end + 1;
    if (is_equation_line(line) || trim(line).starts_with("####")) continue;
    for (std::size_t at = 0; at < line.size();) {
      const char c = line[at];
      if (static_cast<unsigned char>(c) >= 0x80) {
        at += decode_utf8(line, at).length;
        ++measured;
        ++letters;
        continue;
      }
      ++at;
      if (is_ascii_space(c)) continue;
      ++measured;
      if (is_ascii_letter(c)) {
        ++letters;
      } else if (is_ascii_digit(c) || is_ascii_punct(c)) {
        ++symbols;
      }
    }
  }
  return measured >= kSoupMinChars && static_cast<double>(symbols) >= kSoupMinSymbolShare * measured &&
         static_cast<double>(letters) <= kSoupMaxLetterShare * measured;
}

bool is_repetition(std::string_view response) {
  const std::string_view tail = response.substr(response.size() - std::min(response.size(), kRepeatTailBytes));
  const double needed = std::max<double>(kRepeatMinBytes, kRepeatMinTailShare * tail.size());
  for (std::size_t period = 1; period <= kRepeatMaxPeriod && period < tail.size(); ++period) {
    // Length of the longest suffix of `tail` with this period (a partial last copy is allowed).
    std::size_t periodic = period;
    while (periodic < tail.size() && tail[tail.size() - 1 - periodic] == tail[tail.size() - 1 - periodic + period]) {
      ++periodic;
    }
    if (periodic >= kRepeatMinCopies * period && static_cast<double>(periodic) >= needed) return true;
  }
  return false;
}

}  // namespace

std::string_view extractor_name(Extractor e) {
  switch (e) {
    case Extractor::Sglang:
      return "sglang";
    case Extractor::StrictMatch:
      return "strict-match";
    case Extractor::FlexibleExtract:
      return "flexible-extract";
  }
  return "unknown";
}

std::optional<Extractor> parse_extractor(std::string_view name) {
  for (const Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
    if (extractor_name(e) == name) return e;
  }
  return std::nullopt;
}

std::optional<std::string> extract_prediction(Extractor e, std::string_view response) {
  switch (e) {
    case Extractor::Sglang:
      return sglang_last_integer(response);
    case Extractor::StrictMatch:
      if (const auto group = strict_match(response)) return lm_eval_normalise(*group);
      return std::nullopt;
    case Extractor::FlexibleExtract:
      if (const auto group = flexible_extract(response)) return lm_eval_normalise(*group);
      return std::nullopt;
  }
  return std::nullopt;
}

std::string reference_label(Extractor e, std::string_view gsm8k_answer) {
  if (e == Extractor::Sglang) {
    // SGLang scores an unreadable label as INVALID too (it then equals an invalid prediction); the
    // loader refuses such answers, so this branch only serves answers built elsewhere.
    return sglang_last_integer(gsm8k_answer).value_or(std::to_string(kSglangInvalid));
  }
  // lm-eval's target: answer.split('####')[-1].strip(), then the same ignore-regexes. Python's split
  // finds separators left to right without overlap, so "b##### " splits into "b" and "# ".
  std::size_t after = 0;
  for (std::size_t at = gsm8k_answer.find("####"); at != std::string_view::npos; at = gsm8k_answer.find("####", after)) {
    after = at + 4;
  }
  return lm_eval_normalise(python_strip(gsm8k_answer.substr(after)));
}

bool is_degenerate(std::string_view response) { return is_repetition(response) || is_digit_soup(response); }

}  // namespace mxg::probe
