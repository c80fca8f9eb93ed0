// Progress line and plain-log progress for the matrix runner.
#include "harness/matrix/progress.hpp"

#include <cstdio>

#include <fmt/format.h>

namespace mxg::matrix {

Progress::Progress(std::int64_t total, bool tty) : total_(total), tty_(tty) {}

void Progress::skip(std::int64_t n) { skipped_ += n; }

void Progress::finished(const report::CombinationResult& r) {
  ++done_;
  ++counts_[r.verdict];
  const bool notable = r.mutant.empty() && r.verdict != report::Verdict::Pass && r.verdict != report::Verdict::Caught;
  if (notable) {
    if (tty_) std::fputs("\r\033[K", stderr);
    fmt::print(stderr, "{:<7} {}  nmse={:.3g}  {}\n", report::verdict_name(r.verdict), r.id, r.metrics.nmse, r.message);
  }
  if (tty_) redraw();
}

void Progress::redraw() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::int64_t left = total_ - skipped_ - done_;
  const double eta = done_ > 0 ? elapsed / static_cast<double>(done_) * static_cast<double>(left) : 0.0;
  fmt::print(stderr, "\r\033[K[{}/{}] {:.0f}%  ETA {:.0f}s  PASS {} CAUGHT {} FAIL {} BLIND {} ERROR {}",
             done_ + skipped_, total_, 100.0 * static_cast<double>(done_ + skipped_) / std::max<double>(1, total_),
             eta, counts_[report::Verdict::Pass], counts_[report::Verdict::Caught], counts_[report::Verdict::Fail],
             counts_[report::Verdict::Blind], counts_[report::Verdict::Error]);
  std::fflush(stderr);
}

void Progress::instance_done(const std::string& instance_id) {
  if (tty_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "[{}/{}] {:.1f}s  done {}\n", done_ + skipped_, total_, elapsed, instance_id);
}

void Progress::close() {
  if (tty_) std::fputs("\n", stderr);
}

}  // namespace mxg::matrix
