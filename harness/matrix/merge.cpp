// `mxguard merge` (merge.hpp).
#include "harness/matrix/merge.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "harness/matrix/mutants.hpp"
#include "harness/matrix/run_outputs.hpp"
#include "kernels/common/errors.hpp"
#include "reports/gzip_file.hpp"
#include "reports/json_io.hpp"
#include "reports/jsonl.hpp"

namespace mxg::matrix {
namespace {

namespace fs = std::filesystem;
using report::CombinationResult;

// One input run: its folder, header (run.json, absent for a run that never finished) and results.
struct InputRun {
  fs::path dir;
  std::optional<report::RunSummary> header;
  std::map<std::string, CombinationResult> results;  // by id; a re-run (resume) replaces the earlier line
};

// The results log of a run folder: the plain one while (or if) a run writes it, else the closed one.
std::optional<fs::path> results_log(const fs::path& dir) {
  for (const char* name : {"results.jsonl", "results.jsonl.gz"}) {
    if (fs::is_regular_file(dir / name)) return dir / name;
  }
  return std::nullopt;
}

void collect_run_dirs(const fs::path& path, std::vector<fs::path>& dirs) {
  if (results_log(path)) {
    dirs.push_back(path);
    return;
  }
  std::vector<fs::path> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path, ec))
    if (entry.is_directory()) children.push_back(entry.path());
  if (ec) throw InputError(fmt::format("{}: cannot list: {}", path.string(), ec.message()));
  std::sort(children.begin(), children.end());
  for (const auto& c : children) collect_run_dirs(c, dirs);
}

InputRun load_run(const fs::path& dir) {
  InputRun run{dir, read_run_header(dir / "run.json"), {}};
  const fs::path log = *results_log(dir);
  std::vector<std::string> warnings;
  report::read_log_lines(
      log, "result record",
      [&](std::string_view line) {
        CombinationResult r = report::parse_result_line(line);
        run.results.insert_or_assign(r.id, std::move(r));
      },
      warnings);
  for (const auto& w : warnings) fmt::print(stderr, "mxguard merge: {}\n", w);
  return run;
}

// Two results of one id are the same outcome when everything but when, where and how long agrees.
bool same_outcome(const CombinationResult& a, const CombinationResult& b) {
  return a.verdict == b.verdict && a.expected_consistent == b.expected_consistent &&
         report::Json(a.metrics) == report::Json(b.metrics) && a.dims == b.dims;
}

std::string shard_name(const report::ShardInfo& s) { return fmt::format("{}/{}", s.index, s.count); }

// Gaps the shard headers reveal: parts of K/N missing, a part with fewer results than it planned,
// parts of different splits. One line each.
std::vector<std::string> shard_gaps(const std::vector<InputRun>& runs) {
  std::vector<std::string> gaps;
  std::map<std::int64_t, std::set<std::int64_t>> parts;  // N -> K seen
  std::set<std::int64_t> selected;
  for (const auto& run : runs) {
    if (!run.header) {
      gaps.push_back(fmt::format("{}: no run.json (the run never finished): its coverage cannot be checked",
                                 run.dir.string()));
      continue;
    }
    const auto& s = run.header->shard;
    parts[s.count].insert(s.index);
    selected.insert(s.selected);
    const auto matrix_results = static_cast<std::int64_t>(std::count_if(
        run.results.begin(), run.results.end(), [](const auto& kv) { return kv.second.mutant.empty(); }));
    if (matrix_results < s.planned) {
      gaps.push_back(fmt::format("{}: shard {} holds {} of its {} combinations{}", run.dir.string(), shard_name(s),
                                 matrix_results, s.planned, run.header->interrupted ? " (interrupted)" : ""));
    }
  }
  if (parts.size() > 1 || selected.size() > 1) {
    gaps.push_back("the inputs are parts of different splits or selections (shard counts or selected totals "
                   "differ): not one run");
  }
  for (const auto& [count, seen] : parts) {
    for (std::int64_t k = 1; k <= count; ++k) {
      if (!seen.count(k)) gaps.push_back(fmt::format("shard {}/{} is missing", k, count));
    }
  }
  return gaps;
}

report::RunSummary merged_header(const std::vector<InputRun>& runs) {
  report::RunSummary m;
  std::set<std::string> case_files;
  for (const auto& run : runs) {
    if (!run.header) continue;
    const auto& h = *run.header;
    if (m.tool_version.empty()) {
      m.tool_version = h.tool_version;
      m.backend = h.backend;
      m.replay_prefix = h.replay_prefix;
      m.started_at = h.started_at;
      m.finished_at = h.finished_at;
    }
    m.started_at = std::min(m.started_at, h.started_at);
    m.finished_at = std::max(m.finished_at, h.finished_at);
    m.wall_seconds = std::max(m.wall_seconds, h.wall_seconds);  // shards run side by side
    m.interrupted = m.interrupted || h.interrupted;
    for (const auto& f : h.case_files) case_files.insert(f);
    // A library two shards report differently (two images in one night) keeps both values.
    for (const auto& [name, version] : h.versions) {
      auto [it, fresh] = m.versions.emplace(name, version);
      if (!fresh && it->second != version && it->second.find(version) == std::string::npos)
        it->second += " | " + version;
    }
    m.shard.selected = h.shard.selected;
  }
  m.case_files.assign(case_files.begin(), case_files.end());
  return m;
}

}  // namespace

int merge_runs(const MergeOptions& o) {
  std::vector<fs::path> dirs;
  for (const auto& in : o.inputs) {
    if (!fs::is_directory(in)) throw InputError(fmt::format("{}: not a directory (give run folders)", in.string()));
    const auto before = dirs.size();
    collect_run_dirs(in, dirs);
    if (dirs.size() == before) {
      throw InputError(fmt::format("{}: no results.jsonl or results.jsonl.gz in it or below it", in.string()));
    }
  }
  // A merged folder below an input (merging artifacts/ into artifacts/merged twice) is output, not input.
  const fs::path out_abs = fs::weakly_canonical(o.out_dir);
  std::erase_if(dirs, [&](const fs::path& d) { return fs::weakly_canonical(d) == out_abs; });
  if (dirs.empty()) throw InputError(fmt::format("--out {}: the only run folder given is the output", o.out_dir.string()));
  std::vector<InputRun> runs;
  for (const auto& d : dirs) runs.push_back(load_run(d));

  // Union by id: a repeat with the same outcome counts once, a different outcome is refused.
  std::map<std::string, std::pair<CombinationResult, const InputRun*>> merged;
  std::int64_t repeats = 0;
  for (const auto& run : runs) {
    for (const auto& [id, r] : run.results) {
      auto [it, fresh] = merged.emplace(id, std::make_pair(r, &run));
      if (fresh) continue;
      if (!same_outcome(it->second.first, r)) {
        throw InputError(fmt::format("duplicate id with conflicting outcomes: '{}' is {} in {} and {} in {}", id,
                                     report::verdict_name(it->second.first.verdict), it->second.second->dir.string(),
                                     report::verdict_name(r.verdict), run.dir.string()));
      }
      ++repeats;
    }
  }
  if (repeats > 0) {
    fmt::print(stderr, "mxguard merge: {} id(s) appear in more than one input with the same outcome (counted once)\n",
               repeats);
  }

  report::RunSummary summary = merged_header(runs);
  for (auto& [id, entry] : merged) summary.results.push_back(std::move(entry.first));
  summary.mutants = score_mutants(summary.results);
  std::int64_t planned = 0;
  for (const auto& r : summary.results) planned += r.mutant.empty() ? 1 : 0;
  summary.shard.planned = planned;
  if (summary.shard.selected == 0) summary.shard.selected = planned;
  const auto gaps = shard_gaps(runs);
  if (gaps.empty() && planned != summary.shard.selected) {
    throw InputError(fmt::format("the shards together hold {} combinations but their run selected {}", planned,
                                 summary.shard.selected));
  }

  fs::create_directories(o.out_dir);
  fs::remove(o.out_dir / "results.jsonl");  // a stale plain log would be read before the merged one
  report::write_gzip(o.out_dir / "results.jsonl.gz", [&](const auto& emit) {
    for (const auto& r : summary.results) emit(report::format_result_line(r));
  });
  write_run_outputs(o.out_dir, summary);
  fmt::print(stderr, "mxguard merge: {} run folder(s), {} combinations{}\n", runs.size(), planned,
             gaps.empty() ? ", no gaps" : "");
  for (const auto& g : gaps) fmt::print(stderr, "mxguard merge: gap: {}\n", g);
  const int verdict_exit = report::compute_totals(summary).exit_code;
  if (!gaps.empty() && !o.allow_gaps && verdict_exit != exit_code::kRegression) return exit_code::kInfra;
  return verdict_exit;
}

}  // namespace mxg::matrix
