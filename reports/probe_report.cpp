// Printers of a probe run (what each prints: probe_report.hpp; fields: REPORT_SCHEMA.md, "probe").
#include "reports/probe_report.hpp"

#include <cmath>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "reports/file_io.hpp"
#include "reports/jsonl.hpp"
#include "reports/xml_text.hpp"

namespace mxg::report {

const char* probe_verdict_name(ProbeVerdict v) {
  switch (v) {
    case ProbeVerdict::Pass: return "PASS";
    case ProbeVerdict::Regression: return "REGRESSION";
    case ProbeVerdict::Infra: return "INFRA";
    case ProbeVerdict::Interrupted: return "INTERRUPTED";
  }
  return "?";
}

std::string agreement_line(const ProbeAgreement& a) {
  const std::string close = a.top_k > 0 ? fmt::format(", {} within top-{}", a.close, a.top_k) : "";
  return fmt::format("{}/{} agree ({} identical{}), {} diverged: {:.1f} %, required {:.1f} %", a.identical + a.close,
                     a.compared, a.identical, close, a.diverged, 100 * a.agreement, 100 * a.min_agreement);
}

nlohmann::json to_json(const ProbeQuestionRecord& q) {
  nlohmann::json j;
  j["schema"] = kProbeSchema;
  j["index"] = q.index;
  j["line"] = q.line;
  j["order"] = q.order;
  j["prompt_hash"] = q.prompt_hash;
  j["response"] = q.response;
  j["extracted"] = q.extracted ? nlohmann::json(*q.extracted) : nlohmann::json(nullptr);
  j["label"] = q.label;
  j["correct"] = q.correct;
  j["degenerate"] = q.degenerate;
  j["finish_reason"] = q.finish_reason;
  j["completion_tokens"] = q.completion_tokens ? nlohmann::json(*q.completion_tokens) : nlohmann::json(nullptr);
  j["latency_s"] = q.latency_s;
  j["attempts"] = q.attempts;
  j["error"] = q.error;
  // Compact: [text, logprob, [[text, logprob], ...]] per token; absent when none were recorded.
  if (!q.tokens.empty()) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const ProbeToken& t : q.tokens) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [text, lp] : t.top) top.push_back({text, lp});
      tokens.push_back({t.text, t.logprob, std::move(top)});
    }
    j["tokens"] = std::move(tokens);
  }
  return j;
}

std::string format_probe_line(const ProbeQuestionRecord& q) {
  // Model output can hold any bytes; replace invalid UTF-8 instead of failing the whole run.
  return to_json(q).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

template <typename T>
T field(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) throw InputError(fmt::format("field '{}' is missing", name));
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(fmt::format("field '{}' has the wrong type ({})", name, it->type_name()));
  }
}

template <typename T>
std::optional<T> nullable_field(const nlohmann::json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return field<T>(j, name);
}

// One [text, logprob] pair, or a token's [text, logprob, top] triple's first two entries.
std::pair<std::string, double> text_and_logprob(const nlohmann::json& a, std::size_t expected_size) {
  if (!a.is_array() || a.size() != expected_size || !a[0].is_string() || !a[1].is_number()) {
    throw InputError(fmt::format("field 'tokens' has an entry that is not [text, logprob{}]",
                                 expected_size == 3 ? ", top" : ""));
  }
  return {a[0].get<std::string>(), a[1].get<double>()};
}

std::vector<ProbeToken> parse_tokens(const nlohmann::json& j) {
  std::vector<ProbeToken> out;
  const auto it = j.find("tokens");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw InputError(fmt::format("field 'tokens' has the wrong type ({})", it->type_name()));
  for (const nlohmann::json& entry : *it) {
    ProbeToken t;
    std::tie(t.text, t.logprob) = text_and_logprob(entry, 3);
    if (!entry[2].is_array()) throw InputError("field 'tokens' has an entry whose top list is not an array");
    for (const nlohmann::json& alt : entry[2]) t.top.push_back(text_and_logprob(alt, 2));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

ProbeQuestionRecord parse_probe_line(std::string_view line) {
  nlohmann::json j;
  j = json_read::parse(line, "not JSON");  // bounded depth and size
  if (!j.is_object()) throw InputError("not a JSON object");
  if (const auto schema = field<int>(j, "schema"); schema != kProbeSchema) {
    throw InputError(fmt::format("field 'schema' is {}, this mxguard reads {}", schema, kProbeSchema));
  }
  ProbeQuestionRecord q;
  q.index = field<std::int64_t>(j, "index");
  q.line = field<std::int64_t>(j, "line");
  q.order = field<std::int64_t>(j, "order");
  q.prompt_hash = field<std::string>(j, "prompt_hash");
  q.response = field<std::string>(j, "response");
  q.extracted = nullable_field<std::string>(j, "extracted");
  q.label = field<std::string>(j, "label");
  q.correct = field<bool>(j, "correct");
  q.degenerate = field<bool>(j, "degenerate");
  q.finish_reason = field<std::string>(j, "finish_reason");
  q.completion_tokens = nullable_field<std::int64_t>(j, "completion_tokens");
  q.latency_s = field<double>(j, "latency_s");
  q.attempts = field<int>(j, "attempts");
  q.error = field<std::string>(j, "error");
  q.tokens = parse_tokens(j);
  if (q.index < 0) throw InputError(fmt::format("field 'index' is {}, must be >= 0", q.index));
  return q;
}

LoadedProbeLog load_probe_jsonl(const std::filesystem::path& path) {
  LoadedProbeLog out;
  read_log_lines(
      path, "probe record", [&](std::string_view line) { out.records.push_back(parse_probe_line(line)); },
      out.warnings);
  return out;
}

namespace {

nlohmann::json agreement_json(const ProbeAgreement& a) {
  nlohmann::json divergences = nlohmann::json::array();
  for (const ProbeDivergence& d : a.divergences) {
    divergences.push_back({{"index", d.index},
                           {"char_offset", d.char_offset},
                           {"token", d.token ? nlohmann::json(*d.token) : nlohmann::json(nullptr)},
                           {"baseline", d.baseline_excerpt},
                           {"current", d.current_excerpt},
                           {"close", d.close}});
  }
  return {{"baseline", a.baseline_path}, {"compared", a.compared},     {"identical", a.identical},
          {"close", a.close},            {"diverged", a.diverged},     {"with_logprobs", a.with_logprobs},
          {"top_k", a.top_k},            {"agreement", a.agreement},   {"min_agreement", a.min_agreement},
          {"disagrees", a.disagrees},    {"divergences", std::move(divergences)}};
}

}  // namespace

nlohmann::json to_json(const ProbeSummary& s) {
  nlohmann::json j;
  j["schema"] = kProbeSchema;
  j["tool_version"] = s.tool_version;
  j["started_at"] = s.started_at;
  j["finished_at"] = s.finished_at;
  j["verdict"] = probe_verdict_name(s.verdict);
  j["exit_code"] = s.exit_code;
  j["reasons"] = s.reasons;
  j["stop_rule"] = s.stop_rule;
  j["stop_reason"] = s.stop_reason;
  j["planned"] = s.planned;
  j["answered"] = s.answered;
  j["correct"] = s.correct;
  j["accuracy"] = s.accuracy;
  j["wilson95"] = {s.wilson_lo, s.wilson_hi};
  j["invalid"] = s.invalid;
  j["invalid_rate"] = s.answered ? static_cast<double>(s.invalid) / static_cast<double>(s.answered) : 0.0;
  j["errors"] = s.errors;
  j["truncated"] = s.truncated;
  j["degenerate"] = s.degenerate;
  j["wall_s"] = s.wall_s;
  j["completion_tokens"] = s.completion_tokens;
  j["output_throughput"] = s.output_throughput;
  j["latency"] = {{"p50", s.latency_p50}, {"p90", s.latency_p90}, {"max", s.latency_max}};
  j["min_accuracy"] = s.min_accuracy ? nlohmann::json(*s.min_accuracy) : nlohmann::json(nullptr);
  if (s.sprt) {
    j["sprt"] = {{"decision", s.sprt->decision}, {"stop", s.sprt->stop},       {"llr", s.sprt->llr},
                 {"lower", s.sprt->lower},       {"upper", s.sprt->upper},     {"observations", s.sprt->observations},
                 {"correct", s.sprt->correct}};
  } else {
    j["sprt"] = nullptr;
  }
  if (s.gate) {
    const auto& g = *s.gate;
    j["gate"] = {{"decision", g.decision},       {"stop", g.stop},
                 {"questions", g.questions},     {"min_correct", g.min_correct},
                 {"observations", g.observations}, {"correct", g.correct},
                 {"llr", g.llr},                 {"collapse_boundary", g.collapse_boundary},
                 {"false_failure", g.false_failure}, {"p_good", g.p_good}, {"p_collapse", g.p_collapse}};
  } else {
    j["gate"] = nullptr;
  }
  if (s.paired) {
    const auto& p = *s.paired;
    j["paired"] = {{"baseline", p.baseline_path},   {"paired", p.paired},   {"baseline_only", p.baseline_only},
                   {"candidate_only", p.candidate_only}, {"p_value", p.p_value}, {"alpha", p.alpha},
                   {"regression", p.regression}};
  } else {
    j["paired"] = nullptr;
  }
  j["agreement"] = s.agreement ? agreement_json(*s.agreement) : nlohmann::json(nullptr);
  j["config"] = s.config;
  j["server"] = s.server;
  return j;
}

namespace {

double rate(std::int64_t k, std::int64_t n) { return n ? static_cast<double>(k) / static_cast<double>(n) : 0.0; }

std::string accuracy_line(const ProbeSummary& s) {
  return fmt::format("accuracy {:.3f} ({} of {} answered), Wilson 95% [{:.3f}, {:.3f}]", s.accuracy, s.correct,
                     s.answered, s.wilson_lo, s.wilson_hi);
}

// The first few wrong or failed questions, for a reader of a red CI run.
std::vector<const ProbeQuestionRecord*> worst_questions(const std::vector<ProbeQuestionRecord>& qs, std::size_t max) {
  std::vector<const ProbeQuestionRecord*> out;
  for (const auto& q : qs) {
    if (out.size() == max) break;
    if (!q.correct) out.push_back(&q);
  }
  return out;
}

std::string excerpt(std::string_view text, std::size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '|') c = ' ';
  }
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace

std::string render_probe_junit(const ProbeSummary& s, const std::vector<ProbeQuestionRecord>& questions) {
  // One suite, one testcase per check. Regressions are <failure>, infrastructure trouble is <error>,
  // so a CI reporter shows "the model got worse" and "the server fell over" differently.
  pugi::xml_document doc;
  auto suites = doc.append_child("testsuites");
  auto suite = suites.append_child("testsuite");
  set_attr(suite, "name", "gsm8k-probe");
  auto props = suite.append_child("properties");
  auto prop = [&](const char* name, const std::string& value) {
    auto p = props.append_child("property");
    set_attr(p, "name", name);
    set_attr(p, "value", value);
  };
  prop("tool_version", s.tool_version);
  prop("verdict", probe_verdict_name(s.verdict));
  if (s.server.contains("model")) prop("model", s.server["model"].get<std::string>());
  std::int64_t tests = 0, failures = 0, errors = 0;
  auto testcase = [&](const char* name, const std::string& out_text) {
    ++tests;
    auto tc = suite.append_child("testcase");
    set_attr(tc, "name", name);
    set_attr(tc, "classname", "gsm8k-probe");
    set_attr(tc, "time", fmt::format("{:.3f}", std::isfinite(s.wall_s) ? s.wall_s : 0.0));
    add_text_child(tc, "system-out", out_text);
    return tc;
  };
  auto fail = [&](pugi::xml_node tc, const char* kind, const std::string& message, const std::string& details) {
    (std::string_view(kind) == "failure" ? failures : errors) += 1;
    auto f = tc.append_child(kind);
    set_attr(f, "message", message);
    f.append_child(pugi::node_pcdata).set_value(xml_safe(details).c_str());
  };
  std::string details = accuracy_line(s) + "\n" + s.stop_reason + "\n";
  for (const auto* q : worst_questions(questions, 10)) {
    details += fmt::format("question {} (line {}): label {}, extracted {}{}: {}\n", q->index, q->line, q->label,
                           q->extracted.value_or("none"), q->error.empty() ? "" : ", error " + q->error,
                           excerpt(q->response, 160));
  }
  auto acc = testcase("accuracy", accuracy_line(s));
  if (s.verdict == ProbeVerdict::Regression) {
    std::string message = s.reasons.empty() ? "accuracy regression" : s.reasons.front();
    fail(acc, "failure", message, details);
  }
  auto infra = testcase("infrastructure", fmt::format("{} errors of {} requests", s.errors, s.answered + s.errors));
  if (s.verdict == ProbeVerdict::Infra || s.verdict == ProbeVerdict::Interrupted) {
    fail(infra, "error", s.reasons.empty() ? s.stop_reason : s.reasons.front(), s.stop_reason);
  }
  if (s.paired) {
    const auto& p = *s.paired;
    auto tc = testcase("paired-baseline", fmt::format("{} paired, {} right only in the baseline, {} right only now, "
                                                      "McNemar p = {:.4g}",
                                                      p.paired, p.baseline_only, p.candidate_only, p.p_value));
    if (p.regression) {
      fail(tc, "failure", fmt::format("worse than the baseline (McNemar p = {:.4g} < {})", p.p_value, p.alpha), details);
    }
  }
  if (s.agreement) {
    const auto& a = *s.agreement;
    auto tc = testcase("baseline-agreement", agreement_line(a));
    if (a.disagrees) fail(tc, "failure", agreement_line(a), details);
  }
  set_attr(suite, "tests", std::to_string(tests));
  set_attr(suite, "failures", std::to_string(failures));
  set_attr(suite, "errors", std::to_string(errors));
  set_attr(suite, "skipped", "0");
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return out.str();
}

std::string render_probe_markdown(const ProbeSummary& s, const std::vector<ProbeQuestionRecord>& questions) {
  std::string md = fmt::format("# mxguard probe: {}\n\n", probe_verdict_name(s.verdict));
  for (const auto& r : s.reasons) md += fmt::format("- {}\n", r);
  if (!s.reasons.empty()) md += "\n";
  const std::string model = s.server.contains("model") ? s.server["model"].get<std::string>() : "?";
  md += "| | |\n|---|---|\n";
  md += fmt::format("| model | `{}` |\n", model);
  md += fmt::format("| accuracy | **{:.3f}** ({} / {}), Wilson 95% [{:.3f}, {:.3f}] |\n", s.accuracy, s.correct,
                    s.answered, s.wilson_lo, s.wilson_hi);
  if (s.min_accuracy) md += fmt::format("| threshold | {:.3f} |\n", *s.min_accuracy);
  md += fmt::format("| stopped | {} ({} rule) |\n", s.stop_reason, s.stop_rule);
  if (s.sprt) {
    md += fmt::format("| SPRT | {} after {} questions, LLR {:.3f} in ({:.3f}, {:.3f}) |\n", s.sprt->decision,
                      s.sprt->observations, s.sprt->llr, s.sprt->lower, s.sprt->upper);
  }
  if (s.gate) {
    const auto& g = *s.gate;
    md += fmt::format("| gate | {} ({}): {} right of {} read; passes with >= {} of {}; collapse LLR {:.3f} "
                      "(fails at {:.3f}); P(fail | healthy {}) = {:.2g} |\n",
                      g.decision, g.stop, g.correct, g.observations, g.min_correct, g.questions, g.llr,
                      g.collapse_boundary, g.p_good, g.false_failure);
  }
  if (s.paired) {
    const auto& p = *s.paired;
    md += fmt::format("| vs baseline | {} paired; right only in baseline {}, only now {}; McNemar p = {:.4g} |\n",
                      p.paired, p.baseline_only, p.candidate_only, p.p_value);
  }
  if (s.agreement) md += fmt::format("| agreement with baseline | {} |\n", agreement_line(*s.agreement));
  md += fmt::format("| invalid | {:.3f} ({}) |\n", rate(s.invalid, s.answered), s.invalid);
  md += fmt::format("| truncated (length) | {:.3f} ({}) |\n", rate(s.truncated, s.answered), s.truncated);
  md += fmt::format("| degenerate output | {:.3f} ({}) |\n", rate(s.degenerate, s.answered), s.degenerate);
  md += fmt::format("| infrastructure errors | {} |\n", s.errors);
  md += fmt::format("| latency | batch {:.3f} s; per question p50 {:.3f} s, p90 {:.3f} s |\n", s.wall_s,
                    s.latency_p50, s.latency_p90);
  md += fmt::format("| output throughput | {:.3f} token/s |\n", s.output_throughput);
  const auto worst = worst_questions(questions, 5);
  if (!worst.empty()) {
    md += "\n| question | label | extracted | response |\n|---:|---:|---:|---|\n";
    for (const auto* q : worst) {
      md += fmt::format("| {} | {} | {} | {} |\n", q->index, q->label,
                        q->error.empty() ? q->extracted.value_or("invalid") : "error",
                        excerpt(q->error.empty() ? q->response : q->error, 100));
    }
  }
  return md;
}

std::string render_sglang_lines(const ProbeSummary& s) {
  return fmt::format("Accuracy: {:.3f}\nInvalid: {:.3f}\nLatency: {:.3f} s\nOutput throughput: {:.3f} token/s\n",
                     s.accuracy, rate(s.invalid, s.answered), s.wall_s, s.output_throughput);
}

}  // namespace mxg::report
