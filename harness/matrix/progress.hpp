// Progress of a matrix run: on a terminal one live line with counts and ETA; otherwise plain
// lines (one per finished instance and one per result that is not PASS or CAUGHT), fit for CI logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "reports/result.hpp"

namespace mxg::matrix {

class Progress {
 public:
  Progress(std::int64_t total, bool tty);
  void skip(std::int64_t n);  // results already done (--resume)
  // More work found while running (mutants: known only once an instance's geometry is derived).
  void add_to_total(std::int64_t n) { total_ += n; }
  void finished(const report::CombinationResult& r);
  void instance_done(const std::string& instance_id);
  void close();  // ends the live line

 private:
  void redraw();
  std::int64_t total_, done_ = 0, skipped_ = 0;
  bool tty_;
  std::map<report::Verdict, std::int64_t> counts_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace mxg::matrix
