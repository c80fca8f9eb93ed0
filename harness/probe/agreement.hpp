// Greedy-answer agreement of a probe run with a baseline run (`mxguard probe --agree-with`): the
// regression signal that needs no accuracy, so it works on a model that knows nothing (random
// weights) as well as on a real one. Rules in reports/probe_result.hpp (ProbeAgreement).
#pragma once

#include <filesystem>
#include <vector>

#include "reports/probe_result.hpp"

namespace mxg::probe {

// Pairs questions by index that both runs answered (no error) with the same prompt hash. A
// question agrees when the responses are byte-identical, or when top_k > 0, both sides carry token
// logprobs, and at the first differing token each side's token is among the other side's top_k
// candidates (the closeness rule of vLLM's model tests). No question in common -> mxg::InputError.
report::ProbeAgreement compare_agreement(const std::vector<report::ProbeQuestionRecord>& baseline,
                                         const std::vector<report::ProbeQuestionRecord>& current, int top_k,
                                         double min_agreement);

// The same with the baseline read from its probe.jsonl (unreadable -> mxg::InputError naming it).
report::ProbeAgreement compare_agreement(const std::filesystem::path& baseline,
                                         const std::vector<report::ProbeQuestionRecord>& current, int top_k,
                                         double min_agreement);

}  // namespace mxg::probe
