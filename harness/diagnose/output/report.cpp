// Text and JSON rendering of a diagnosis.
#include "harness/diagnose/output/report.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mxg::diagnose {

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.2e}", v);
}

nlohmann::ordered_json json_number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

// What an explanation is, in a few words.
std::string title(const Explanation& e) {
  if (!e.scenarios.empty()) return fmt::format("{}", fmt::join(e.scenarios, ", "));
  switch (e.consistency) {
    case Consistency::Consistent: return "correct preparation (healthy)";
    case Consistency::Mixed: return "correct preparation (also reached by inconsistent combinations)";
    case Consistency::Inconsistent: return "unnamed inconsistent combination";
  }
  return "?";
}

std::string members_text(const Explanation& e) {
  return e.members.size() == 1 ? "1 combination" : fmt::format("{} combinations", e.members.size());
}

std::string margin_text(const Diagnosis& d) {
  if (d.ranked.size() < 2) return "no other output to compare with: every combination gives this one";
  const Explanation& r = d.ranked[1];
  const std::string runner = fmt::format("the runner-up, {} ({}), has NMSE {}", title(r), consistency_name(r.consistency),
                                         number(r.fit.score()));
  if (std::isnan(d.margin)) return fmt::format("none: {}", runner);
  if (std::isinf(d.margin)) return fmt::format("unbounded (the best reproduces the output exactly); {}", runner);
  return fmt::format("{:.3g}x; {}", d.margin, runner);
}

}  // namespace

std::string finding_line(const Diagnosis& d) {
  const Explanation& b = d.best();
  const std::string fit = fmt::format("NMSE {}", number(b.fit.score()));
  switch (d.finding) {
    case Finding::Healthy:
      return fmt::format("HEALTHY: the observed output is what a correct preparation gives ({}; {}, {})", fit,
                         members_text(b), consistency_name(b.consistency));
    case Finding::Bug:
      return fmt::format("BUG: {} ({}; {})", title(b), fit, members_text(b));
    case Finding::Unexplained:
      return fmt::format("UNEXPLAINED: no combination reproduces the observed output (best {} > {})", fit,
                         number(d.options.explained_nmse));
  }
  return "?";
}

std::string render_text(const ObservedLayer& layer, const CandidateSet& set, const Diagnosis& d,
                        const ReportOptions& o) {
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  const auto& c = layer.config;
  line(fmt::format("diagnose output: layer {} of {} (H={} I={} E={} k={}), {} tokens, {} routed experts", layer.layer,
                   layer.checkpoint, c.hidden, c.intermediate, c.experts, c.topk, layer.setup.inputs.hidden.dim(0),
                   layer.setup.inputs.expert_ids.size()));
  line(fmt::format("  hidden:   {}", layer.hidden_label));
  line(fmt::format("  observed: {} {} {}, {}", layer.observed_label, shape_string(layer.observed.shape()),
                   dtype_name(layer.observed.dtype()), layer.scope));
  line(fmt::format("  routing:  {}", layer.routing_source));
  line(fmt::format("ran {} combinations on {} ({}; {}): {} kernel runs in {:.1f} s, {} distinct outputs",
                   set.candidates.size(), set.backend.backend, set.backend.kernel, set.backend.device, set.kernel_runs,
                   set.seconds, d.ranked.size()));
  line("");
  line(fmt::format("{:>4}  {:<9}  {:<9}  {:<12}  {}", "rank", "NMSE", "cosine", "derived", "explanation / members"));
  const std::size_t shown = std::min(o.top, d.ranked.size());
  for (std::size_t i = 0; i < shown; ++i) {
    const Explanation& e = d.ranked[i];
    std::string fit = number(e.fit.nmse);
    if (e.fit.nonfinite_mismatches > 0) fit = fmt::format("{} (+{} non-finite mismatches)", fit, e.fit.nonfinite_mismatches);
    line(fmt::format("{:>4}  {:<9}  {:<9.6f}  {:<12}  {} ({})", i + 1, fit, e.fit.cosine, consistency_name(e.consistency),
                     title(e), members_text(e)));
    const std::string indent(4 + 2 + 9 + 2 + 9 + 2 + 12 + 2, ' ');
    for (std::size_t m = 0; m < e.members.size() && m < o.members; ++m) {
      line(indent + matrix::combination_id(set.candidates[e.members[m]].combo));
    }
    if (e.members.size() > o.members) line(fmt::format("{}... and {} more", indent, e.members.size() - o.members));
  }
  if (d.ranked.size() > shown) {
    line(fmt::format("({} more explanations, NMSE {} .. {}; --top N lists more, --json lists all)",
                     d.ranked.size() - shown, number(d.ranked[shown].fit.score()), number(d.ranked.back().fit.score())));
  }
  line("");
  line(finding_line(d));
  const Explanation& b = d.best();
  if (d.finding != Finding::Unexplained) {
    line(fmt::format("  margin: {}", margin_text(d)));
    if (d.finding == Finding::Bug && !b.derivation.empty()) line(fmt::format("  why it is wrong: {}", b.derivation));
  } else {
    line(fmt::format("  the closest is {} ({}); check the layer, the hidden states, the routing and --tp/--rank, or "
                     "suspect a bug outside the matrix's dimensions",
                     title(b), consistency_name(b.consistency)));
  }
  if (d.ambiguous) {
    line(fmt::format("AMBIGUOUS: {} explanations lie within a factor {} of the best (margin {}): the data cannot "
                     "single one out",
                     d.contenders, d.options.min_margin, number(d.margin)));
  }
  return out;
}

nlohmann::ordered_json to_json(const ObservedLayer& layer, const CandidateSet& set, const Diagnosis& d) {
  using J = nlohmann::ordered_json;
  J j;
  j["schema"] = kReportSchema;
  j["finding"] = finding_name(d.finding);
  j["exit_code"] = d.exit_code();
  j["summary"] = finding_line(d);
  j["layer"] = layer.layer;
  j["checkpoint"] = layer.checkpoint;
  j["config"] = {{"hidden", layer.config.hidden},
                 {"intermediate", layer.config.intermediate},
                 {"experts", layer.config.experts},
                 {"topk", layer.config.topk}};
  j["tokens"] = layer.setup.inputs.hidden.dim(0);
  j["routed_experts"] = layer.setup.inputs.expert_ids;
  j["routing"] = layer.routing_source;
  j["hidden"] = layer.hidden_label;
  j["observed"] = layer.observed_label;
  j["scope"] = {{"tp", layer.tp}, {"rank", layer.rank ? J(*layer.rank) : J(nullptr)}, {"text", layer.scope}};
  j["backend"] = {{"name", set.backend.backend}, {"kernel", set.backend.kernel}, {"device", set.backend.device}};
  j["combinations"] = set.candidates.size();
  j["kernel_runs"] = set.kernel_runs;
  j["seconds"] = set.seconds;
  j["explained_nmse"] = d.options.explained_nmse;
  j["min_margin"] = d.options.min_margin;
  j["margin"] = json_number(d.margin);
  j["margin_text"] = number(d.margin);  // "inf" for an exact best, "n/a" when undefined
  j["ambiguous"] = d.ambiguous;
  j["contenders"] = d.contenders;
  J list = J::array();
  for (std::size_t i = 0; i < d.ranked.size(); ++i) {
    const Explanation& e = d.ranked[i];
    J members = J::array();
    for (const std::size_t m : e.members) {
      const Candidate& cand = set.candidates[m];
      J dims(J::value_t::object);
      for (const auto& [k, v] : matrix::dimension_map(cand.combo)) dims[k] = v;
      members.push_back({{"id", matrix::combination_id(cand.combo)},
                         {"dims", dims},
                         {"consistent", cand.consistent},
                         {"scenarios", cand.scenarios}});
    }
    list.push_back({{"rank", i + 1},
                    {"title", title(e)},
                    {"nmse", json_number(e.fit.nmse)},
                    {"cosine", json_number(e.fit.cosine)},
                    {"nonfinite_mismatches", e.fit.nonfinite_mismatches},
                    {"consistency", consistency_name(e.consistency)},
                    {"scenarios", e.scenarios},
                    {"derivation", e.derivation},
                    {"members", members}});
  }
  j["explanations"] = list;
  return j;
}

}  // namespace mxg::diagnose
