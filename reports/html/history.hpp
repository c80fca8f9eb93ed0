// The nightly history (ci/workflows/mxg_ci.py `history`: one JSON line per night) as the report's trend
// and its "new since last night" / "fixed since last night" lists.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/json_io.hpp"
#include "reports/result.hpp"

namespace mxg::report::html {

// One mxguard step of a night: `mxg_ci.py run` recorded its result and the key numbers of its report.
struct HistoryStep {
  std::string name, result;
  Json labels = Json::object();
  Json summary = Json::object();  // matrix: counts, margin, wall_seconds, failing; probe: accuracy, verdict, ...
  std::optional<double> seconds;
  bool is_matrix() const { return summary.contains("counts"); }
  bool is_probe() const { return summary.contains("accuracy"); }
};

struct Night {
  std::string time, sha, ref, url, run_id, verdict;
  std::vector<HistoryStep> steps;
};

// Reads nightly.jsonl. Blank lines are skipped; a line that is not a JSON object, or whose `results`
// is not an array of objects -> mxg::InputError "<file>:<line>: ...". Unknown keys are ignored.
std::vector<Night> read_history(const std::filesystem::path& path);

// The figures the trend charts plot for one night; nullopt where the night did not record them
// (e.g. a line written before matrix steps carried their totals).
struct NightFigures {
  std::optional<std::int64_t> fail, blind, error;
  std::optional<double> margin;        // smallest margin over the night's matrix steps
  std::optional<double> wall_seconds;  // the steps' own durations, summed
  std::map<std::string, double> probe_accuracy;  // by step name
  std::map<std::string, std::string> probe_verdict;
};
NightFigures night_figures(const Night& night);

// Tonight, as the report's inputs say it.
struct Tonight {
  std::map<std::string, Verdict> failing;  // FAIL, BLIND and ERROR results by id
  // The verdict of an id tonight, or nullopt when tonight did not run it.
  std::function<std::optional<Verdict>(const std::string&)> verdict_of;
  std::map<std::string, std::string> probe_verdict;  // by the history step name it was matched to
};

// "New since last night": tonight's FAIL/BLIND/ERROR ids that were not failing in `last`, and probe
// steps that turned red. "Fixed": `last`'s failing ids that ran tonight without failing, and probe
// steps that turned green. Ids `last` listed that tonight did not run are listed as not run. When
// `last` recorded only part of its failing ids (`failing_total` beyond the list), "new" may hold ids
// that were failing already; the result says so.
Json since_last_night(const Night& last, const Tonight& tonight, std::size_t max_listed = 200);

}  // namespace mxg::report::html
