// Question selection, prompts and the seeded permutation (rules in question_plan.hpp).
#include "harness/probe/question_plan.hpp"

#include <fmt/format.h>

#include "harness/probe/fetch_data.hpp"
#include "harness/probe/prompt.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/splitmix64.hpp"

namespace mxg::probe {

std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  SplitMix64 rng{seed};
  for (std::int64_t i = n - 1; i > 0; --i) {
    // The modulo bias (< i / 2^64) is far below anything a probe of a few thousand questions could notice.
    const auto j = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(i + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

QuestionPlan make_question_plan(const ProbeConfig& c) {
  const std::vector<Gsm8kItem> data = load_gsm8k_jsonl(c.data);
  std::vector<Gsm8kItem> shot_source_items;
  const std::vector<Gsm8kItem>* shot_source = &data;
  std::string shot_file = c.data.string();
  if (c.shots_from == ShotSource::Train) {
    if (!c.train_data) throw InputError("--shots-from train needs --train-data PATH (train.jsonl)");
    shot_source_items = load_gsm8k_jsonl(*c.train_data);
    shot_source = &shot_source_items;
    shot_file = c.train_data->string();
  }
  if (static_cast<std::size_t>(c.num_shots) > shot_source->size()) {
    throw InputError(fmt::format("{}: --num-shots {} but the file has only {} examples", shot_file, c.num_shots,
                                 shot_source->size()));
  }
  const auto n = c.num_questions == 0 ? static_cast<std::int64_t>(data.size()) : c.num_questions;
  if (n > static_cast<std::int64_t>(data.size())) {
    throw InputError(fmt::format("{}: --num-questions {} but the file has only {} examples", c.data.string(), n,
                                 data.size()));
  }
  QuestionPlan plan;
  plan.shot_prefix = few_shot_prefix(std::span(shot_source->data(), static_cast<std::size_t>(c.num_shots)));
  plan.questions.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const Gsm8kItem& item = data[static_cast<std::size_t>(i)];
    PlannedQuestion& q = plan.questions[static_cast<std::size_t>(i)];
    q.index = i;
    q.line = item.line;
    q.prompt = question_prompt(plan.shot_prefix, item);
    q.prompt_hash = sha256_hex(q.prompt).substr(0, 16);
    q.label = reference_label(c.extractor, item.answer);
  }
  plan.by_order = seeded_permutation(n, c.seed);
  for (std::int64_t o = 0; o < n; ++o) {
    plan.questions[static_cast<std::size_t>(plan.by_order[static_cast<std::size_t>(o)])].order = o;
  }
  return plan;
}

}  // namespace mxg::probe
