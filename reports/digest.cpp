// Human-facing views of a run shared by the Markdown, console and JUnit printers.
#include "reports/digest.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mxg::report {

std::string_view verdict_meaning(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "consistent layout, matches the reference";
    case Verdict::Caught: return "inconsistent layout, mismatch detected (the harness works)";
    case Verdict::Fail: return "consistent layout but mismatches: a regression";
    case Verdict::Blind:
      return "inconsistent layout but matches: the kernel ignores this dimension or the case cannot expose it";
    case Verdict::Error: return "could not run (infrastructure)";
    case Verdict::Skipped: return "not run on purpose";
  }
  return "";
}

std::string_view verdict_explanation(Verdict v) {
  switch (v) {
    case Verdict::Pass:
      return "The layout rules say the kernel reads these bytes as the checkpoint wrote them, and its output matched "
             "the independent reference within tolerance. Nothing to do.";
    case Verdict::Caught:
      return "The layout rules say this combination is wrong (the kernel reads bytes the loader did not put "
             "there), and the output missed the reference: had a loader or dispatcher produced this combination, "
             "mxguard would have flagged it. This is the harness working; nothing to do.";
    case Verdict::Fail:
      return "The layout rules say this combination is right, yet the output missed the reference: a regression in "
             "the kernel (or in what feeds it). Open the cell for the expert and 16-row tile where the error sits "
             "and the command that replays exactly this combination.";
    case Verdict::Blind:
      return "This combination is wrong by the layout rules, yet the output matched the reference. Either the "
             "kernel ignores this dimension (it never reads the flag or gate mode the derivation names, so the "
             "'wrong' setting changes nothing), or this case cannot expose it (too few tokens or experts, inputs "
             "that hide the difference). Check the dimension named in the derivation: if the kernel really ignores "
             "it, the derivation or the kernel contract is out of date; otherwise add a case that makes the bug "
             "visible (cases/README.md, \"Calibration\").";
    case Verdict::Error:
      return "The combination could not run (a crash, GPU fault, timeout or failing external command), so it says "
             "nothing about accuracy. The message gives the reason; treat it as infrastructure, not a regression, "
             "and replay it once the cause is fixed.";
    case Verdict::Skipped:
      return "Not run on purpose (filtered out, unsupported on this backend, or a known bug); the message gives "
             "the reason.";
  }
  return "";
}

ScenarioStatus scenario_status(const std::map<Verdict, std::int64_t>& counts, std::int64_t combinations) {
  const std::int64_t skipped = counts.contains(Verdict::Skipped) ? counts.at(Verdict::Skipped) : 0;
  const std::int64_t caught = counts.contains(Verdict::Caught) ? counts.at(Verdict::Caught) : 0;
  if (skipped == combinations) return ScenarioStatus::NotRun;
  if (caught + skipped == combinations) return ScenarioStatus::Caught;
  return ScenarioStatus::Missed;
}

std::string_view overall_status(const Totals& t) {
  switch (t.exit_code) {
    case 0: return "PASS";
    case 1: return "REGRESSION";
    case 130: return "INTERRUPTED";
    default: return "ERROR";
  }
}

std::string format_sci(double x) { return fmt::format("{:.3e}", x); }
std::string format_cosine(double x) { return fmt::format("{:.6f}", x); }
std::string format_percent(double share) { return fmt::format("{:.1f}%", share * 100.0); }

std::vector<std::string> tolerance_violations(const Metrics& m, const Tolerance& t) {
  std::vector<std::string> broken;
  // Written as "!(ok)" so that a NaN metric, for which every comparison is false, counts as broken.
  if (m.nonfinite_kernel > 0) broken.push_back(fmt::format("{} non-finite kernel outputs", m.nonfinite_kernel));
  if (m.nonfinite_ref > 0) broken.push_back(fmt::format("{} non-finite reference outputs", m.nonfinite_ref));
  if (!(m.nmse <= t.nmse)) broken.push_back(fmt::format("nmse {} > {}", format_sci(m.nmse), format_sci(t.nmse)));
  if (!(m.max_rel <= t.max_rel)) {
    broken.push_back(fmt::format("max_rel {} > {}", format_sci(m.max_rel), format_sci(t.max_rel)));
  }
  if (!(m.cosine >= t.cosine)) {
    broken.push_back(fmt::format("cosine {} < {}", format_cosine(m.cosine), format_cosine(t.cosine)));
  }
  return broken;
}

std::string describe_metrics(const Metrics& m, const Tolerance& t) {
  return fmt::format("nmse {} (tol {}), max_rel {} (tol {}), cosine {} (min {}), non-finite {} kernel / {} reference",
                     format_sci(m.nmse), format_sci(t.nmse), format_sci(m.max_rel), format_sci(t.max_rel),
                     format_cosine(m.cosine), format_cosine(t.cosine), m.nonfinite_kernel, m.nonfinite_ref);
}

std::string describe_hotspots(const std::vector<Hotspot>& hotspots, std::size_t limit) {
  if (hotspots.empty()) return "none recorded";
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < hotspots.size() && i < limit; ++i) {
    const Hotspot& h = hotspots[i];
    parts.push_back(fmt::format("expert {} tile {} ({})", h.expert, h.tile, format_percent(h.share)));
  }
  if (hotspots.size() > limit) parts.push_back(fmt::format("{} more", hotspots.size() - limit));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string one_line_reason(const CombinationResult& r) {
  const std::vector<std::string> broken = tolerance_violations(r.metrics, r.tolerance);
  const std::string broken_text = broken.empty() ? std::string("no metric outside tolerance")
                                                 : fmt::format("{}", fmt::join(broken, "; "));
  const std::string why = r.derivation.empty() ? std::string() : fmt::format(" ({})", r.derivation);
  switch (r.verdict) {
    case Verdict::Pass: return fmt::format("PASS: within tolerance, nmse {}", format_sci(r.metrics.nmse));
    case Verdict::Caught: return fmt::format("CAUGHT: layout expected inconsistent{}; measured {}", why, broken_text);
    case Verdict::Fail:
      return fmt::format("FAIL: consistent layout mismatches the reference: {}; hotspots {}", broken_text,
                         describe_hotspots(r.hotspots, 1));
    case Verdict::Blind:
      return fmt::format("BLIND: layout expected inconsistent{} but every metric is within tolerance: {}", why,
                         describe_metrics(r.metrics, r.tolerance));
    case Verdict::Error: return fmt::format("ERROR: {}", r.message.empty() ? "no reason recorded" : r.message);
    case Verdict::Skipped: return fmt::format("SKIPPED: {}", r.message.empty() ? "no reason recorded" : r.message);
  }
  return "";
}

std::string describe_margin(const Totals& t) {
  if (!t.margin) {
    const auto count = [&](Verdict v) { return t.counts.contains(v) ? t.counts.at(v) : 0; };
    return fmt::format("not defined: it needs at least one PASS and one CAUGHT (this run has {} PASS, {} CAUGHT)",
                       count(Verdict::Pass), count(Verdict::Caught));
  }
  const std::string floor_note =
      t.largest_pass_nmse < kMarginNmseFloor ? fmt::format(" (floored at {})", format_sci(kMarginNmseFloor)) : "";
  return fmt::format("{} = smallest CAUGHT NMSE {} / largest PASS NMSE {}{}", format_sci(*t.margin),
                     format_sci(t.smallest_caught_nmse), format_sci(t.largest_pass_nmse), floor_note);
}

bool margin_is_weak(const Totals& t) { return t.margin && !(*t.margin >= kWeakMarginThreshold); }

std::string_view scenario_status_name(ScenarioStatus s) {
  switch (s) {
    case ScenarioStatus::Caught: return "caught";
    case ScenarioStatus::Missed: return "MISSED";
    case ScenarioStatus::NotRun: return "not run";
  }
  return "";
}

std::vector<ScenarioOutcome> scenario_outcomes(const RunSummary& run) {
  std::map<std::string, ScenarioOutcome> by_name;
  for (const CombinationResult& r : run.results) {
    if (is_mutant_result(r)) continue;
    for (const std::string& name : r.scenarios) {
      ScenarioOutcome& s = by_name[name];
      s.name = name;
      ++s.combinations;
      ++s.counts[r.verdict];
    }
  }
  std::vector<ScenarioOutcome> out;
  for (auto& [name, s] : by_name) {
    s.status = scenario_status(s.counts, s.combinations);
    out.push_back(std::move(s));
  }
  return out;
}

std::string describe_counts(const std::map<Verdict, std::int64_t>& counts) {
  std::vector<std::string> parts;
  for (Verdict v : kAllVerdicts) {
    const auto it = counts.find(v);
    if (it != counts.end() && it->second > 0) parts.push_back(fmt::format("{} {}", verdict_name(v), it->second));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::vector<const CombinationResult*> worst_failures(const RunSummary& run) {
  const auto nmse_key = [](const CombinationResult* r) {
    return std::isnan(r->metrics.nmse) ? std::numeric_limits<double>::infinity() : r->metrics.nmse;
  };
  std::vector<const CombinationResult*> fails, blinds, errors;
  for (const CombinationResult& r : run.results) {
    if (is_mutant_result(r)) continue;
    if (r.verdict == Verdict::Fail) fails.push_back(&r);
    if (r.verdict == Verdict::Blind) blinds.push_back(&r);
    if (r.verdict == Verdict::Error) errors.push_back(&r);
  }
  std::stable_sort(fails.begin(), fails.end(), [&](auto* a, auto* b) { return nmse_key(a) > nmse_key(b); });
  std::stable_sort(blinds.begin(), blinds.end(), [&](auto* a, auto* b) { return nmse_key(a) < nmse_key(b); });
  std::stable_sort(errors.begin(), errors.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<const CombinationResult*> out = std::move(fails);
  out.insert(out.end(), blinds.begin(), blinds.end());
  out.insert(out.end(), errors.begin(), errors.end());
  return out;
}

std::vector<const MutantResult*> surviving_mutants(const RunSummary& run) {
  std::vector<const MutantResult*> out;
  for (const MutantResult& m : run.mutants) {
    if (!m.killed) out.push_back(&m);
  }
  return out;
}

namespace {
template <class Member>
std::vector<std::string> distinct(const RunSummary& run, Member member) {
  std::vector<std::string> out;
  for (const CombinationResult& r : run.results) {
    if (is_mutant_result(r)) continue;
    const std::string& value = r.*member;
    if (!value.empty() && std::find(out.begin(), out.end(), value) == out.end()) out.push_back(value);
  }
  return out;
}
}  // namespace

std::vector<std::string> distinct_backends(const RunSummary& run) { return distinct(run, &CombinationResult::backend); }
std::vector<std::string> distinct_kernels(const RunSummary& run) { return distinct(run, &CombinationResult::kernel); }
std::vector<std::string> distinct_devices(const RunSummary& run) { return distinct(run, &CombinationResult::device); }

std::string shell_single_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string replay_command(const RunSummary& run, const CombinationResult& r) {
  if (run.replay_prefix.empty()) return "";
  return run.replay_prefix + " " + shell_single_quote(r.id) + " --out mxguard-replay";
}

}  // namespace mxg::report
