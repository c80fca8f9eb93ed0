// How many seeded mutants a fuzz test runs: `default_runs` in every CI run, MXG_FUZZ_RUNS=N for a
// longer run on demand. A value that is not a positive integer is reported and the default used,
// so a typo never silently fuzzes nothing.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace mxg::testing {

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

}  // namespace mxg::testing
