// Thread-safe bookkeeping of StandinStats, and its JSON (GET /standin/stats) and one-line summary.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "harness/standin/answer_writer.hpp"
#include "harness/standin/standin_server.hpp"

namespace mxg::standin {

class StatsRecorder {
 public:
  void generation_request();
  void warmup();
  void bad_request();
  void fault(std::string_view name);  // "error", "hang", ..., "not_ready", "unauthorized"
  // Counts one more request for `question` and returns how many came before it (the fault index).
  std::int64_t next_request_index(const std::string& question);
  // Reserves the next answer slot and returns how many answers came before it; collapse_after
  // compares with this, so the reservation and the count are one atomic step.
  std::int64_t next_answer_index();
  void answered(AnswerKind kind);  // Correct, WrongNumber, a non-answer kind, or Unknown
  StandinStats snapshot() const;

 private:
  mutable std::mutex mutex_;
  StandinStats stats_;
  std::int64_t answers_ = 0;
};

// {"generation_requests", "warmups", "bad_requests", "answered_correct", "answered_wrong",
//  "answered_nonanswer", "unknown_question", "faults": {kind: n}, "per_question_requests": {q: n}}
std::string stats_to_json(const StandinStats& s);

// One line for the CLI's exit: counts and the faults that fired.
std::string stats_summary(const StandinStats& s);

}  // namespace mxg::standin
