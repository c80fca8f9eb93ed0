// Output files of a probe run (what and when: probe_outputs.hpp).
#include "harness/probe/probe_outputs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reports/file_io.hpp"
#include "reports/html/html_report.hpp"
#include "reports/jsonl.hpp"
#include "reports/markdown.hpp"
#include "reports/probe_report.hpp"

namespace mxg::probe {

ProbeLog::ProbeLog(std::filesystem::path path, bool truncate) : path_(std::move(path)) {
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  fd_ = ::open(path_.c_str(), flags, 0644);
  if (fd_ < 0) throw InputError(fmt::format("{}: cannot open for writing: {}", path_.string(), std::strerror(errno)));
  if (!truncate) {
    // --resume after a crash mid-line: cut the fragment off (or terminate a whole record) so the next
    // record starts on its own line instead of being glued onto it.
    try {
      repair_note_ = report::repair_log_tail(fd_, path_, [](std::string_view line) {
        try {
          (void)report::parse_probe_line(line);
          return true;
        } catch (const InputError&) {
          return false;
        }
      });
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
  last_sync_ = std::chrono::steady_clock::now();
}

ProbeLog::~ProbeLog() {
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
  }
}

void ProbeLog::append(const report::ProbeQuestionRecord& q) {
  report::write_all(fd_, report::format_probe_line(q), path_);
  if (std::chrono::steady_clock::now() - last_sync_ > std::chrono::seconds(1)) sync();
}

void ProbeLog::sync() {
  report::sync_fd(fd_, path_);
  last_sync_ = std::chrono::steady_clock::now();
}

void write_probe_reports(const std::filesystem::path& out_dir, const report::ProbeSummary& summary,
                         const std::vector<report::ProbeQuestionRecord>& questions, const char* step_summary_path) {
  report::write_file_atomically(out_dir / "probe.json", report::to_json(summary).dump(2) + "\n");
  report::write_file_atomically(out_dir / "junit.xml", report::render_probe_junit(summary, questions));
  const std::filesystem::path html = out_dir / "report.html";
  report::html::write_probe_html(html, summary, questions);
  const std::string md =
      report::render_probe_markdown(summary, questions) + fmt::format("\nHTML report: `{}`\n", html.string());
  report::write_file_atomically(out_dir / "summary.md", md);
  report::append_step_summary(md, step_summary_path);
}

}  // namespace mxg::probe
