// Deterministic mutation fuzzing of the GSM8K JSON Lines parser: every damaged file either parses
// into items that keep the loader's promises or raises a one-line InputError naming the source;
// never a crash, never another exception (the ASan/UBSan build turns memory errors into failures).
// The extractors and the degenerate detector get the same damaged text as model responses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "harness/probe/extract.hpp"
#include "harness/probe/gsm8k.hpp"
#include "harness/probe/gsm8k_synth.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::probe {
namespace {

constexpr std::uint32_t kSeed = 20261125u;
constexpr int kIterations = 3000;

std::string valid_file() {
  std::string text = "# generated for the fuzz test\n\n";
  text += to_gsm8k_jsonl(generate_gsm8k(6, 99));
  text += "{\"question\": \"Caf\\u00e9?\", \"answer\": \"3*4=<<3*4=12>>12\\r\\n#### 1,212\", \"x\": [1, {}]}\r\n";
  return text;
}

// One random damage, mostly with characters from JSON's and GSM8K's own alphabet so that many
// mutants still parse as JSON and reach the field and label checks.
std::string mutate(const std::string& original, std::mt19937& rng) {
  static constexpr std::string_view kAlphabet = "{}[]\",:\\u0123456789-# \n\r\t#####,.";
  std::string f = original;
  auto pick = [&](std::size_t lo, std::size_t hi) {  // uniform in [lo, hi)
    return std::uniform_int_distribution<std::size_t>(lo, hi - 1)(rng);
  };
  auto some_char = [&] {
    return pick(0, 6) == 0 ? static_cast<char>(rng() & 0xFF) : kAlphabet[pick(0, kAlphabet.size())];
  };
  const std::size_t rounds = pick(1, 4);
  for (std::size_t r = 0; r < rounds && !f.empty(); ++r) {
    switch (pick(0, 7)) {
      case 0:  // replace a few characters
        for (std::size_t n = pick(1, 6); n > 0; --n) f[pick(0, f.size())] = some_char();
        break;
      case 1:  // truncate anywhere
        f.resize(pick(0, f.size()));
        break;
      case 2:  // insert characters
        for (std::size_t n = pick(1, 4); n > 0; --n) f.insert(f.begin() + static_cast<std::ptrdiff_t>(pick(0, f.size() + 1)), some_char());
        break;
      case 3: {  // delete a span
        const std::size_t at = pick(0, f.size());
        f.erase(at, pick(1, 20));
        break;
      }
      case 4: {  // duplicate a span elsewhere (whole lines, keys, escapes)
        const std::size_t at = pick(0, f.size());
        const std::string span = f.substr(at, pick(1, 80));
        f.insert(pick(0, f.size() + 1), span);
        break;
      }
      case 5: {  // change one digit: labels move between valid and invalid forms
        for (int tries = 0; tries < 50; ++tries) {
          const std::size_t at = pick(0, f.size());
          if (f[at] >= '0' && f[at] <= '9') {
            f[at] = "0123456789,-"[pick(0, 12)];
            break;
          }
        }
        break;
      }
      default:  // break a UTF-8 sequence or a \u escape
        for (int tries = 0; tries < 50; ++tries) {
          const std::size_t at = pick(0, f.size());
          if (f[at] == '\\' || static_cast<unsigned char>(f[at]) >= 0x80) {
            f[at] = static_cast<char>(0x80 | (rng() & 0x3F));
            break;
          }
        }
        break;
    }
  }
  return f;
}

TEST(Gsm8kFuzz, DamagedFilesParseOrRaiseInputError) {
  const std::string original = valid_file();
  ASSERT_EQ(parse_gsm8k_jsonl(original, "fuzz.jsonl").size(), 7u);
  std::mt19937 rng(kSeed);
  int parsed = 0, rejected = 0;
  for (int i = 0; i < kIterations; ++i) {
    const std::string damaged = mutate(original, rng);
    const std::int64_t lines = static_cast<std::int64_t>(std::count(damaged.begin(), damaged.end(), '\n')) + 1;
    try {
      const auto items = parse_gsm8k_jsonl(damaged, "fuzz.jsonl");
      ++parsed;
      ASSERT_FALSE(items.empty());
      std::int64_t previous = 0;
      for (const Gsm8kItem& item : items) {
        ASSERT_GT(item.line, previous);
        ASSERT_LE(item.line, lines);
        previous = item.line;
        for (const Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
          ASSERT_FALSE(reference_label(e, item.answer).empty()) << "iteration " << i << ": " << item.answer;
        }
        ASSERT_NE(reference_label(Extractor::Sglang, item.answer), std::to_string(kSglangInvalid)) << item.answer;
      }
    } catch (const InputError& e) {
      ++rejected;
      const std::string message = e.what();
      ASSERT_EQ(message.rfind("fuzz.jsonl:", 0), 0u) << "iteration " << i << ": " << message;
      ASSERT_EQ(message.find('\n'), std::string::npos) << "iteration " << i << ": " << message;
    }
    // The same bytes as a model response: the scanners must be total on any input.
    for (const Extractor e : {Extractor::Sglang, Extractor::StrictMatch, Extractor::FlexibleExtract}) {
      (void)extract_prediction(e, damaged);
    }
    (void)is_degenerate(damaged);
  }
  // Both outcomes must be common, or the mutations are too weak (or too strong) to test anything.
  EXPECT_GT(parsed, kIterations / 20);
  EXPECT_GT(rejected, kIterations / 5);
}

}  // namespace
}  // namespace mxg::probe
