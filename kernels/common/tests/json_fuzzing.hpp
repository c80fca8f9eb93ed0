// Seeded fuzzing of JSON readers, shared by the fuzz tests of the bounded reader and of the
// stand-in's request parsing: how many mutants to run, and the mutator that makes them.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

namespace mxg::testing {

// How many seeded mutants a fuzz test runs: `default_runs` in every CI run, MXG_FUZZ_RUNS=N for a
// longer run on demand. A value that is not a positive integer is reported and the default used,
// so a typo never silently fuzzes nothing.
inline long fuzz_runs(long default_runs) {
  const char* env = std::getenv("MXG_FUZZ_RUNS");
  if (env == nullptr || *env == '\0') return default_runs;
  const std::string_view text(env);
  long runs = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), runs);
  if (ec != std::errc() || end != text.data() + text.size() || runs <= 0) {
    std::fprintf(stderr, "MXG_FUZZ_RUNS=%s is not a positive integer; running the default %ld\n", env, default_runs);
    return default_runs;
  }
  return runs;
}

// 1..max_edits random edits of a JSON text: insert, erase or replace a character of `alphabet`
// (mostly structure characters, so mutants reach the nesting, key and number paths), open up to
// `max_nesting` brackets at once (deep nesting), repeat a slice of up to `max_slice` bytes, or
// insert any byte.
struct JsonMutator {
  std::string_view alphabet;
  unsigned max_edits;
  unsigned max_nesting;
  unsigned max_slice;
  bool braces_too;  // deep nesting with '{' as well as '['

  std::string operator()(std::string s, std::mt19937& rng) const {
    const unsigned edits = 1 + rng() % max_edits;
    for (unsigned e = 0; e < edits; ++e) {
      const std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 6) {
        case 0: s.insert(pos, 1, c); break;
        case 1: if (pos < s.size()) s.erase(pos, 1); break;
        case 2: if (pos < s.size()) s[pos] = c; break;
        case 3: s.insert(pos, std::string(rng() % max_nesting, braces_too && rng() % 2 ? '{' : '[')); break;
        case 4: if (pos < s.size()) s.insert(pos, s.substr(pos, rng() % max_slice)); break;
        default: s.insert(pos, 1, static_cast<char>(rng() % 256)); break;
      }
    }
    return s;
  }
};

}  // namespace mxg::testing
