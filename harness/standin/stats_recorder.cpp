// StandinStats under a mutex, and its JSON and summary renderings.
#include "harness/standin/stats_recorder.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mxg::standin {

void StatsRecorder::generation_request() {
  std::lock_guard lock(mutex_);
  ++stats_.generation_requests;
}

void StatsRecorder::warmup() {
  std::lock_guard lock(mutex_);
  ++stats_.warmups;
}

void StatsRecorder::bad_request() {
  std::lock_guard lock(mutex_);
  ++stats_.bad_requests;
}

void StatsRecorder::fault(std::string_view name) {
  std::lock_guard lock(mutex_);
  ++stats_.faults[std::string(name)];
}

std::int64_t StatsRecorder::next_request_index(const std::string& question) {
  std::lock_guard lock(mutex_);
  return stats_.per_question_requests[question]++;
}

std::int64_t StatsRecorder::next_answer_index() {
  std::lock_guard lock(mutex_);
  return answers_++;
}

void StatsRecorder::answered(AnswerKind kind) {
  std::lock_guard lock(mutex_);
  if (kind == AnswerKind::Correct) {
    ++stats_.answered_correct;
  } else if (kind == AnswerKind::WrongNumber) {
    ++stats_.answered_wrong;
  } else if (kind == AnswerKind::Unknown) {
    ++stats_.unknown_question;
  } else {
    ++stats_.answered_nonanswer;
  }
}

StandinStats StatsRecorder::snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::string stats_to_json(const StandinStats& s) {
  nlohmann::json faults = nlohmann::json::object();
  for (const auto& [name, n] : s.faults) faults[name] = n;
  nlohmann::json per_question = nlohmann::json::object();
  for (const auto& [question, n] : s.per_question_requests) per_question[question] = n;
  return nlohmann::json{{"generation_requests", s.generation_requests},
                        {"warmups", s.warmups},
                        {"bad_requests", s.bad_requests},
                        {"answered_correct", s.answered_correct},
                        {"answered_wrong", s.answered_wrong},
                        {"answered_nonanswer", s.answered_nonanswer},
                        {"unknown_question", s.unknown_question},
                        {"faults", faults},
                        {"per_question_requests", per_question}}
      .dump();
}

std::string stats_summary(const StandinStats& s) {
  std::string faults;
  for (const auto& [name, n] : s.faults) faults += fmt::format("{}{} {}", faults.empty() ? "" : ", ", name, n);
  return fmt::format(
      "mxguard standin: {} generation requests ({} warm-ups, {} bad): {} correct, {} wrong, {} non-answers, "
      "{} unknown questions; faults: {}",
      s.generation_requests, s.warmups, s.bad_requests, s.answered_correct, s.answered_wrong, s.answered_nonanswer,
      s.unknown_question, faults.empty() ? "none" : faults);
}

}  // namespace mxg::standin
