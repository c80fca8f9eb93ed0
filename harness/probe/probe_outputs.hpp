// Files a probe run leaves in its output folder: probe.jsonl (written as questions finish),
// probe.json, junit.xml, report.html, summary.md, and the GitHub step summary.
#pragma once

#include <chrono>
#include <filesystem>
#include <vector>

#include "reports/probe_result.hpp"

namespace mxg::probe {

// probe.jsonl, appended one line per finished question with one write() each (a killed process
// loses nothing already written), fsync'd at most every second and at close (a power cut loses at
// most the last second). At 5,000 answers/s an fsync per line would be the bottleneck.
class ProbeLog {
 public:
  // truncate: start a new file; else append (--resume). Cannot open -> mxg::InputError.
  ProbeLog(std::filesystem::path path, bool truncate);
  ~ProbeLog();
  ProbeLog(const ProbeLog&) = delete;
  ProbeLog& operator=(const ProbeLog&) = delete;
  void append(const report::ProbeQuestionRecord& q);  // write failure -> mxg::InfraError
  void sync();
  // What opening repaired on --resume ("" when the file was clean), for the caller to log.
  const std::string& repair_note() const { return repair_note_; }

 private:
  std::filesystem::path path_;
  std::string repair_note_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point last_sync_;
};

// probe.json, junit.xml, report.html and summary.md (atomic replace), then the step summary when
// step_summary_path (the value of $GITHUB_STEP_SUMMARY) is set.
void write_probe_reports(const std::filesystem::path& out_dir, const report::ProbeSummary& summary,
                         const std::vector<report::ProbeQuestionRecord>& questions, const char* step_summary_path);

}  // namespace mxg::probe
