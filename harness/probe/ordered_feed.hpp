// Hands finished questions to the sequential test in permutation order, not arrival order: answers
// arrive sooner when they are short, and short answers are more often wrong (or right), so feeding
// arrival order would bias an early stop (PROBE.md, Statistics).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace mxg::probe {

class OrderedFeed {
 public:
  explicit OrderedFeed(std::int64_t positions);
  // Records the outcome at permutation position `order`: true/false = scored, nullopt = not scored
  // (an infrastructure error). Recording a position twice -> std::logic_error (a double count).
  void record(std::int64_t order, std::optional<bool> correct);
  // The scored outcomes that became releasable since the last call, in permutation order: everything
  // up to the first position still missing.
  std::vector<bool> release();
  // The same, each with its permutation position.
  struct Released {
    std::int64_t order;
    bool correct;
  };
  std::vector<Released> release_ordered();
  std::int64_t released_positions() const { return next_; }

 private:
  std::vector<std::int8_t> state_;  // -1 missing, 0 wrong, 1 right, 2 not scored
  std::int64_t next_ = 0;
};

}  // namespace mxg::probe
