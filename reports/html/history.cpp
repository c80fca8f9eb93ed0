// Reading the nightly history and comparing tonight with the last night (history.hpp).
#include "reports/html/history.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "reports/jsonl.hpp"

namespace mxg::report::html {

namespace {

std::string string_or_empty(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::optional<double> number(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    try {
      return double_from_json(*it, key);
    } catch (const InputError&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Night parse_night(std::string_view line) {
  Json j;
  j = json_read::parse_ordered(line, "not JSON");  // bounded depth and size
  if (!j.is_object()) throw InputError(fmt::format("expected a JSON object, got {}", j.type_name()));
  Night n;
  n.time = string_or_empty(j, "time");
  n.sha = string_or_empty(j, "sha");
  n.ref = string_or_empty(j, "ref");
  n.url = string_or_empty(j, "url");
  n.run_id = string_or_empty(j, "run_id");
  n.verdict = string_or_empty(j, "verdict");
  const auto results = j.find("results");
  if (results == j.end()) return n;
  if (!results->is_array()) throw InputError(fmt::format("field 'results': expected an array, got {}", results->type_name()));
  for (std::size_t i = 0; i < results->size(); ++i) {
    const Json& r = (*results)[i];
    if (!r.is_object()) throw InputError(fmt::format("field 'results[{}]': expected an object, got {}", i, r.type_name()));
    HistoryStep s;
    s.name = string_or_empty(r, "name");
    s.result = string_or_empty(r, "result");
    if (r.contains("labels") && r["labels"].is_object()) s.labels = r["labels"];
    if (r.contains("summary") && r["summary"].is_object()) s.summary = r["summary"];
    s.seconds = number(r, "seconds");
    n.steps.push_back(std::move(s));
  }
  return n;
}

std::optional<std::int64_t> count_of(const Json& counts, const char* verdict) {
  const auto it = counts.find(verdict);
  if (it == counts.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace

std::vector<Night> read_history(const std::filesystem::path& path) {
  std::vector<Night> nights;
  std::vector<std::string> warnings;  // a torn last line (an append that died) is ignored
  read_log_lines(path, "history line", [&](std::string_view line) { nights.push_back(parse_night(line)); }, warnings);
  return nights;
}

NightFigures night_figures(const Night& night) {
  NightFigures f;
  double wall = 0;
  bool any_wall = false;
  for (const HistoryStep& s : night.steps) {
    if (s.seconds) {
      wall += *s.seconds;
      any_wall = true;
    }
    if (s.is_matrix()) {
      const Json& counts = s.summary["counts"];
      const auto add = [&](std::optional<std::int64_t>& into, const char* verdict) {
        if (const auto n = count_of(counts, verdict)) into = into.value_or(0) + *n;
      };
      add(f.fail, "FAIL");
      add(f.blind, "BLIND");
      add(f.error, "ERROR");
      if (const auto m = number(s.summary, "margin")) f.margin = f.margin ? std::min(*f.margin, *m) : *m;
    } else if (s.is_probe()) {
      if (const auto a = number(s.summary, "accuracy")) f.probe_accuracy[s.name] = *a;
      f.probe_verdict[s.name] = string_or_empty(s.summary, "verdict");
    }
  }
  if (any_wall) f.wall_seconds = wall;
  return f;
}

Json since_last_night(const Night& last, const Tonight& tonight, std::size_t max_listed) {
  // Last night's failing ids, from every matrix step that recorded them.
  std::map<std::string, std::string> before;  // id -> verdict
  bool recorded = false, complete = true;
  std::int64_t recorded_total = 0;
  for (const HistoryStep& s : last.steps) {
    if (!s.is_matrix()) continue;
    const auto it = s.summary.find("failing");
    if (it == s.summary.end() || !it->is_array()) {
      complete = false;
      continue;
    }
    recorded = true;
    for (const Json& f : *it) {
      if (f.is_object() && f.contains("id") && f["id"].is_string())
        before.emplace(f["id"].get<std::string>(), string_or_empty(f, "verdict"));
    }
    const auto total = s.summary.find("failing_total");
    if (total != s.summary.end() && total->is_number_integer()) {
      recorded_total += total->get<std::int64_t>();
      if (total->get<std::int64_t>() > static_cast<std::int64_t>(it->size())) complete = false;
    }
  }

  Json out = Json::object();
  out["last"] = {{"time", last.time}, {"sha", last.sha}, {"url", last.url}, {"verdict", last.verdict}};
  out["ids_recorded"] = recorded;
  out["ids_complete"] = recorded && complete;
  out["recorded_total"] = recorded_total;

  Json added = Json::array(), fixed = Json::array(), not_run = Json::array();
  std::size_t added_total = 0, fixed_total = 0, not_run_total = 0;
  if (recorded) {
    for (const auto& [id, verdict] : tonight.failing) {
      if (before.contains(id)) continue;
      if (++added_total <= max_listed) added.push_back({{"id", id}, {"verdict", std::string(verdict_name(verdict))}});
    }
    for (const auto& [id, was] : before) {
      if (tonight.failing.contains(id)) continue;
      const auto now = tonight.verdict_of ? tonight.verdict_of(id) : std::nullopt;
      if (!now) {
        if (++not_run_total <= max_listed) not_run.push_back({{"id", id}, {"was", was}});
      } else if (*now != Verdict::Skipped) {
        if (++fixed_total <= max_listed)
          fixed.push_back({{"id", id}, {"was", was}, {"now", std::string(verdict_name(*now))}});
      } else if (++not_run_total <= max_listed) {
        not_run.push_back({{"id", id}, {"was", was}});
      }
    }
  }
  // Probe steps whose verdict changed colour.
  const NightFigures figures = night_figures(last);
  Json probes_new = Json::array(), probes_fixed = Json::array();
  for (const auto& [name, now] : tonight.probe_verdict) {
    const auto it = figures.probe_verdict.find(name);
    if (it == figures.probe_verdict.end()) continue;
    const bool was_green = it->second == "PASS", is_green = now == "PASS";
    if (was_green && !is_green) probes_new.push_back({{"name", name}, {"was", it->second}, {"now", now}});
    if (!was_green && is_green) probes_fixed.push_back({{"name", name}, {"was", it->second}, {"now", now}});
  }
  out["new"] = std::move(added);
  out["new_total"] = added_total;
  out["fixed"] = std::move(fixed);
  out["fixed_total"] = fixed_total;
  out["not_run"] = std::move(not_run);
  out["not_run_total"] = not_run_total;
  out["probes_new"] = std::move(probes_new);
  out["probes_fixed"] = std::move(probes_fixed);
  return out;
}

}  // namespace mxg::report::html
