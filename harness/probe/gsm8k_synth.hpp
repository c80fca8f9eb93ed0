// Generated GSM8K-format data for tests and the stand-in server (no network in CI): word problems
// with a worked answer, "<<a*b=c>>" calculator annotations and a final "#### N" line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "harness/probe/gsm8k.hpp"

namespace mxg::probe {

// n distinct questions, deterministic in (n, seed) on every platform. Like the real test split the
// set mixes small labels, labels >= 1000 written with thousands commas after "####", a few negative
// labels, and some non-ASCII text (written as \uXXXX by to_gsm8k_jsonl). Every item parses back
// through parse_gsm8k_jsonl.
std::vector<Gsm8kItem> generate_gsm8k(std::size_t n, std::uint64_t seed);

}  // namespace mxg::probe
