// results.jsonl: the append-only, crash-safe log of finished combinations, and its --resume reader.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reports/result.hpp"

namespace mxg::report {

// One line of results.jsonl: a CombinationResult object with "schema": kResultSchema, then '\n'.
std::string format_result_line(const CombinationResult& r);
// Inverse of format_result_line for one line without its '\n'. Malformed -> mxg::InputError
// (without a location: load_results_jsonl adds file and line).
CombinationResult parse_result_line(std::string_view line);

// Appends results one line at a time; each line is written with one write() and fsync'd before
// append() returns, so an interrupted run loses at most the combination that was being written.
class ResultsLog {
 public:
  // Opens (creating) `path` for appending. If the file ends in an incomplete line — the run died
  // mid-write — that fragment is cut off so the next record starts on a line of its own (a complete
  // record merely missing its '\n' is kept and terminated). Cannot open -> mxg::InputError.
  explicit ResultsLog(std::filesystem::path path);
  ~ResultsLog();
  ResultsLog(const ResultsLog&) = delete;
  ResultsLog& operator=(const ResultsLog&) = delete;

  void append(const CombinationResult& r);  // write + fsync; failure -> mxg::InfraError
  const std::filesystem::path& path() const { return path_; }
  // What opening repaired ("" when the file was clean), for the caller to log.
  const std::string& repair_note() const { return repair_note_; }

 private:
  void repair_tail();
  std::filesystem::path path_;
  int fd_ = -1;
  std::string repair_note_;
};

// Makes an append-only log safe to append to after a crash: a last line without '\n' is either a
// complete record (`is_complete`), which gets its '\n', or a torn fragment, which is cut off (else the
// next record would be glued onto it and both lost). `fd` is the log opened for writing. Returns a
// note for the caller to log ("" when the file was clean). Failure -> mxg::InfraError.
std::string repair_log_tail(int fd, const std::filesystem::path& path,
                            const std::function<bool(std::string_view line)>& is_complete);

// The reading rules of an append-only JSON Lines log, for every such log (results.jsonl, probe.jsonl):
// CR before '\n' and blank lines are ignored; `parse_and_keep` gets each other line and throws
// mxg::InputError when it is malformed. A malformed last line without '\n' is a torn write (the run
// died mid-line): a warning, not an error. Any other -> mxg::InputError "<file>:<line>: malformed
// <record_kind>: ...". An unreadable file -> mxg::InputError naming it.
void read_log_lines(const std::filesystem::path& path, std::string_view record_kind,
                    const std::function<void(std::string_view line)>& parse_and_keep,
                    std::vector<std::string>& warnings);

struct LoadedResults {
  std::vector<CombinationResult> results;  // in file order; duplicates (re-runs) are kept as written
  std::vector<std::string> warnings;       // e.g. the torn last line that was ignored
};

// Reads a results.jsonl for --resume. Blank lines are skipped. A last line without '\n' that does not
// parse is a torn write: ignored with a warning. Any other malformed line -> mxg::InputError
// "<file>:<line>: ...". An unreadable file -> mxg::InputError naming it.
LoadedResults load_results_jsonl(const std::filesystem::path& path);

}  // namespace mxg::report
