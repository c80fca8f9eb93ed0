// Which questions a probe run asks, with what prompt, and in what order (SGLang parity: the first N
// lines of the data, shots = the first k lines of the test file or of train.jsonl).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/probe/probe_config.hpp"

namespace mxg::probe {

struct PlannedQuestion {
  std::int64_t index = 0;  // position among the scored questions
  std::int64_t line = 0;   // line in the data file
  std::int64_t order = 0;  // position in the seeded permutation
  std::string prompt;
  std::string prompt_hash;  // first 16 hex digits of sha256(prompt)
  std::string label;        // reference_label under the configured extractor
};

struct QuestionPlan {
  std::string shot_prefix;                 // what the warm-up sends
  std::vector<PlannedQuestion> questions;  // by index
  std::vector<std::int64_t> by_order;      // by_order[o] = index of the question at permutation position o
};

// Loads the data (and train data), builds prompts and labels, draws the permutation.
// Too few lines for the shots, or --num-questions beyond the file -> mxg::InputError naming the file.
QuestionPlan make_question_plan(const ProbeConfig& c);

// Fisher-Yates with splitmix64: the same permutation of 0..n-1 on every platform for a seed.
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed);

}  // namespace mxg::probe
