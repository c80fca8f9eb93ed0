// Text and JSON printers over one (Plan, Verdict) record.
#include "harness/preflight/report.hpp"

#include <fmt/format.h>

namespace mxg::preflight {

namespace {
const char* severity_name(Severity s) { return s == Severity::Bad ? "bad" : "warning"; }
}  // namespace

std::string render_text(const Plan& p, const Verdict& v) {
  const ModelConfig& m = p.request.model;
  std::string out = fmt::format(
      "preflight: {} (model_type {}, H {}, I {}, {} experts, top-{}) on SGLang '{}', tp {}, ep {}\n", m.source,
      m.model_type.empty() ? "?" : m.model_type, m.hidden, m.intermediate, m.experts, m.experts_per_token,
      behaviour_name(p.request.behaviour), p.request.tp, p.request.ep);
  out += "What SGLang will do:\n";
  int n = 1;
  for (const Step& s : p.steps) {
    out += fmt::format("  {}. {:<13} {}\n     {:<13} [{}]\n", n++, s.name, s.detail, "", s.source);
  }
  out += fmt::format("Per MoE-tp rank (I/tp = {}, I_p = {}):\n", p.ranks.front().units_over_tp,
                     p.ranks.front().intermediate_padded);
  out += fmt::format("  {:>4}  {:>14}  {:>6}  {:>5}  {:>16}  {:>4}  {:>7}\n", "rank", "units", "loaded", "I_p",
                     "intermediate_pad", "used", "dropped");
  for (const RankRow& r : p.ranks) {
    out += fmt::format("  {:>4}  {:>14}  {:>6}  {:>5}  {:>16}  {:>4}  {:>7}\n", r.rank,
                       fmt::format("[{}, {})", r.unit_start, r.unit_end), r.loaded, r.intermediate_padded,
                       r.intermediate_pad, r.used, r.dropped);
  }
  for (const Finding& f : v.findings) {
    if (f.severity == Severity::Bad) out += fmt::format("BAD [{}]: {}\n", f.rule, f.message);
  }
  if (!v.scenarios.empty()) {
    std::string names;
    for (const auto& s : v.scenarios) names += (names.empty() ? "" : ", ") + s;
    out += fmt::format("matches historical scenario(s): {}\n", names);
  }
  for (const Finding& f : v.findings) {
    if (f.severity == Severity::Warning && f.rule != "unverified") out += fmt::format("WARN [{}]: {}\n", f.rule, f.message);
  }
  for (const Finding& f : v.findings) {
    if (f.severity == Severity::Warning && f.rule == "unverified") out += fmt::format("warning: {}\n", f.message);
  }
  if (!v.bad()) out += v.warned() ? "OK with a warning (exit 0): a hazard that depends on a choice preflight cannot see\n" : "OK\n";
  return out;
}

nlohmann::json to_json(const Plan& p, const Verdict& v) {
  using nlohmann::json;
  const ModelConfig& m = p.request.model;
  json j;
  j["schema"] = "mxguard.preflight/1";
  j["model"] = {{"config", m.source},      {"model_type", m.model_type}, {"hidden_size", m.hidden},
                {"intermediate_size", m.intermediate}, {"num_local_experts", m.experts},
                {"num_experts_per_tok", m.experts_per_token}, {"quant_method", m.quant_method}};
  json env = json::object();
  for (const auto& [k, val] : p.request.env) env[k] = val;
  j["request"] = {{"sglang_behaviour", behaviour_name(p.request.behaviour)},
                  {"tp", p.request.tp},
                  {"ep", p.request.ep},
                  {"env", env}};
  j["moe_tp"] = p.moe_tp;
  j["experts_per_rank"] = p.experts_per_rank;
  j["gu_interleave"] = {{"value", p.gu_interleave}, {"source", p.gu_interleave_source}};
  json steps = json::array();
  for (const Step& s : p.steps) steps.push_back({{"name", s.name}, {"detail", s.detail}, {"source", s.source}});
  j["steps"] = steps;
  const auto dims = matrix::dimension_map(p.combo);
  j["dispatch"] = json(dims);
  j["dispatch"]["hidden_pad"] = p.hidden_pad;
  j["dispatch"]["hidden_padded"] = p.hidden_padded;
  json ranks = json::array();
  for (const RankRow& r : p.ranks) {
    ranks.push_back({{"rank", r.rank},
                     {"unit_start", r.unit_start},
                     {"unit_end", r.unit_end},
                     {"loaded", r.loaded},
                     {"i_over_tp", r.units_over_tp},
                     {"intermediate_padded", r.intermediate_padded},
                     {"intermediate_pad", r.intermediate_pad},
                     {"used", r.used},
                     {"dropped", r.dropped},
                     {"used_granule", r.used_granule},
                     {"dropped_granule", r.dropped_granule}});
  }
  j["ranks"] = ranks;
  json findings = json::array();
  for (const Finding& f : v.findings) {
    findings.push_back({{"severity", severity_name(f.severity)}, {"rule", f.rule}, {"message", f.message}});
  }
  j["findings"] = findings;
  j["scenarios"] = v.scenarios;
  j["verdict"] = v.bad() ? "BAD" : v.warned() ? "WARN" : "OK";
  return j;
}

}  // namespace mxg::preflight
