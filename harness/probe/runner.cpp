// The probe run (stages and failure handling: runner.hpp).
#include "harness/probe/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/probe/agreement.hpp"
#include "harness/probe/gate.hpp"
#include "harness/probe/ordered_feed.hpp"
#include "harness/probe/paired_baseline.hpp"
#include "harness/probe/probe_outputs.hpp"
#include "harness/probe/question_plan.hpp"
#include "harness/probe/run_config_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/utc_time.hpp"
#include "reports/probe_report.hpp"
#include "reports/out_lock.hpp"
#include "kernels/common/version.hpp"

namespace mxg::probe {

namespace {

using Clock = std::chrono::steady_clock;
using report::ProbeQuestionRecord;
using report::ProbeVerdict;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// What went wrong with a request that produced no answer, in one line.
std::string failure_text(const HttpOutcome& o) {
  const auto& a = o.last;
  std::string what;
  if (a.curl_code != 0) {
    what = fmt::format("transport error: {}", a.transport_error);
  } else if (a.status < 200 || a.status >= 300) {
    what = fmt::format("HTTP {}: {}", a.status, server_error_message(a.body));
  } else {
    what = "the server aborted the generation (finish_reason abort)";
  }
  if (o.cls == AttemptClass::Retryable) return fmt::format("{} (after {} attempts)", what, o.attempts);
  return what;
}

ProbeQuestionRecord make_record(const PlannedQuestion& q, const HttpOutcome& o, const ProbeConfig& c) {
  ProbeQuestionRecord r;
  r.index = q.index;
  r.line = q.line;
  r.order = q.order;
  r.prompt_hash = q.prompt_hash;
  r.label = q.label;
  r.latency_s = o.seconds;
  r.attempts = o.attempts;
  const bool answered = o.cls == AttemptClass::Final && o.last.curl_code == 0 && o.last.status >= 200 &&
                        o.last.status < 300;
  if (!answered) {
    r.error = failure_text(o);
    return r;
  }
  const ParsedGeneration parsed = parse_generation(c.api, o.last.body);
  if (!parsed.generation) {
    r.error = fmt::format("malformed response: {}", parsed.error);
    return r;
  }
  const Generation& g = *parsed.generation;
  r.response = g.text;
  r.finish_reason = g.finish_reason;
  r.completion_tokens = g.completion_tokens;
  r.extracted = extract_prediction(c.extractor, g.text);
  r.correct = r.extracted && *r.extracted == q.label;
  r.degenerate = is_degenerate(g.text);
  r.tokens = g.tokens;
  return r;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::ranges::sort(v);
  // Nearest rank: the smallest value with at least a fraction q of the data at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// Counts, rates, interval and latency figures of the finished questions.
void tally(report::ProbeSummary& s, const std::vector<ProbeQuestionRecord>& qs) {
  std::vector<double> latencies;
  for (const auto& q : qs) {
    if (!q.error.empty()) {
      ++s.errors;
      continue;
    }
    ++s.answered;
    s.correct += q.correct ? 1 : 0;
    s.invalid += q.extracted ? 0 : 1;
    s.truncated += q.finish_reason == "length" ? 1 : 0;
    s.degenerate += q.degenerate ? 1 : 0;
    s.completion_tokens += q.completion_tokens.value_or(0);
    latencies.push_back(q.latency_s);
  }
  s.accuracy = s.answered ? static_cast<double>(s.correct) / static_cast<double>(s.answered) : 0.0;
  const Interval w = wilson_interval(s.correct, s.answered);
  s.wilson_lo = w.lo;
  s.wilson_hi = w.hi;
  s.output_throughput = s.wall_s > 0 ? static_cast<double>(s.completion_tokens) / s.wall_s : 0.0;
  s.latency_p50 = quantile(latencies, 0.5);
  s.latency_p90 = quantile(latencies, 0.9);
  s.latency_max = latencies.empty() ? 0.0 : *std::ranges::max_element(latencies);
}

report::ProbeSprtState sprt_state(const Sprt& t) {
  report::ProbeSprtState st;
  st.decision = std::string(decision_name(t.decision()));
  switch (t.stop()) {
    case SprtStop::UpperBoundary: st.stop = "upper boundary"; break;
    case SprtStop::LowerBoundary: st.stop = "lower boundary"; break;
    case SprtStop::Truncated: st.stop = "fallback"; break;
    case SprtStop::None: st.stop = "none"; break;
  }
  st.llr = t.llr();
  st.lower = t.lower();
  st.upper = t.upper();
  st.observations = t.observations();
  st.correct = t.correct();
  return st;
}

int exit_code_of(ProbeVerdict v) {
  switch (v) {
    case ProbeVerdict::Pass: return exit_code::kPass;
    case ProbeVerdict::Regression: return exit_code::kRegression;
    case ProbeVerdict::Infra: return exit_code::kInfra;
    case ProbeVerdict::Interrupted: return exit_code::kInterrupted;
  }
  return exit_code::kInfra;
}

std::string sprt_stop_reason(const Sprt& t, double fallback) {
  if (t.stop() == SprtStop::Truncated) {
    const double acc = t.observations() ? static_cast<double>(t.correct()) / static_cast<double>(t.observations()) : 0.0;
    return fmt::format("SPRT undecided after {} questions: fixed rule, accuracy {:.3f} {} {:.3f} -> {}",
                       t.observations(), acc, acc >= fallback ? ">=" : "<", fallback, decision_name(t.decision()));
  }
  return fmt::format("SPRT: {} after {} questions (LLR {:.3f}, boundaries {:.3f} / {:.3f})", decision_name(t.decision()),
                     t.observations(), t.llr(), t.lower(), t.upper());
}

HttpPool make_generation_pool(const ProbeConfig& c) {
  const Api api = c.api;
  return HttpPool(c.http, c.retry, [api](const HttpRequest&, const HttpAttempt& a) { return classify_generation(api, a); });
}

// SGLang's warm-up: the shot prefix with no new tokens (the OpenAI APIs get one token, as some
// servers reject max_tokens 0). Retried like any question; still failing -> mxg::InfraError.
void warm_up(const ProbeConfig& c, const std::string& model, const std::string& shot_prefix) {
  SamplingParams warm = c.sampling;
  warm.max_new_tokens = c.api == Api::Sglang ? 0 : 1;
  HttpPool pool = make_generation_pool(c);
  pool.submit({0, "POST", generation_path(c.api), generation_body(c.api, model, shot_prefix, warm)});
  while (pool.pending() > 0) {
    for (const HttpOutcome& o : pool.poll(100)) {
      const bool ok = o.cls == AttemptClass::Final && o.last.curl_code == 0 && o.last.status >= 200 && o.last.status < 300;
      if (!ok) throw InfraError(fmt::format("warm-up request failed: {}", failure_text(o)));
    }
  }
}

// The fallback threshold when the sequential test runs out of questions: the user's gate, else the
// midpoint of the two hypotheses.
double fallback_threshold(const ProbeConfig& c) {
  return c.min_accuracy.value_or((c.sprt.p_good + c.sprt.p_bad) / 2);
}

report::ProbeGateState gate_state_record(const Gate& g) {
  report::ProbeGateState st;
  st.decision = g.decision() == GateDecision::Pass ? "pass" : g.decision() == GateDecision::Fail ? "fail" : "continue";
  st.stop = std::string(gate_stop_name(g.stop()));
  st.questions = g.plan().config.questions;
  st.min_correct = g.plan().min_correct;
  st.observations = g.observations();
  st.correct = g.correct();
  st.llr = g.llr();
  st.collapse_boundary = g.plan().upper;
  st.false_failure = g.plan().false_failure;
  st.p_good = g.plan().config.p_good;
  st.p_collapse = g.plan().config.p_collapse;
  return st;
}

// One sentence with the numbers the gate decided on; a failure's numbers always show why.
std::string gate_reason(const Gate& g) {
  const GatePlan& p = g.plan();
  const auto n = g.observations(), k = g.correct(), total = p.config.questions;
  switch (g.stop()) {
    case GateStop::Collapse:
      return fmt::format("gate, collapse stage: {} right of the first {} questions, LLR {:.3f} >= {:.3f} (nearer {} "
                         "than {})",
                         k, n, g.llr(), p.upper, p.config.p_collapse, p.config.p_good);
    case GateStop::Curtailed:
      return fmt::format("gate: {} wrong of {} asked, so at most {} of {} can be right; it needs {} (accuracy {:.4f})",
                         n - k, n, k + (total - n), total, p.min_correct,
                         static_cast<double>(p.min_correct) / static_cast<double>(total));
    case GateStop::Final:
      return fmt::format("gate: {} of {} right, at least {} needed (accuracy {:.4f} >= {:.4f}); no collapse", k, total,
                         p.min_correct, static_cast<double>(k) / static_cast<double>(total),
                         static_cast<double>(p.min_correct) / static_cast<double>(total));
    case GateStop::None: break;
  }
  return fmt::format("gate undecided after {} of {} questions", n, total);
}

}  // namespace

ProbeRun run_probe(const ProbeConfig& c, const ProbeHooks& hooks) {
  validate(c);
  const auto log = [&](std::string_view line) {
    if (hooks.log) hooks.log(line);
  };
  const auto interrupted = [&] { return hooks.interrupted && hooks.interrupted->load(); };

  const QuestionPlan plan = make_question_plan(c);
  const auto n = static_cast<std::int64_t>(plan.questions.size());
  // An unreadable baseline, or one that did not answer every planned question with the same prompt, is
  // an input error: say it now, before any request.
  if (c.baseline) check_baseline_covers(*c.baseline, plan);
  if (c.agree_with) {
    try {
      report::load_probe_jsonl(*c.agree_with);
    } catch (const InputError& e) {
      throw InputError(fmt::format("--agree-with: {}", e.what()));
    }
  }
  // Exclusive for this run: two probes on one --out duplicated each other's questions.
  const report::OutDirLock out_lock(c.out_dir, "--out");

  ProbeRun run;
  report::ProbeSummary& s = run.summary;
  s.tool_version = std::string(mxguard_version());  // bare, as the matrix records it
  s.started_at = utc_now_iso8601();
  s.config = run_config_json(c);
  s.planned = n;
  s.stop_rule = c.stop == StopRule::Sprt ? "sprt" : c.stop == StopRule::Gate ? "gate" : "fixed";
  if (c.stop == StopRule::Fixed) s.min_accuracy = c.min_accuracy;  // the others say when they applied one

  // Questions answered by an earlier, interrupted run of the same configuration are kept.
  std::vector<std::optional<ProbeQuestionRecord>> done(static_cast<std::size_t>(n));
  const auto log_path = c.out_dir / "probe.jsonl";
  if (c.resume && std::filesystem::exists(log_path)) {
    const auto loaded = report::load_probe_jsonl(log_path);
    for (const auto& w : loaded.warnings) log(w);
    std::int64_t reused = 0;
    for (const auto& r : loaded.records) {
      if (!r.error.empty() || r.index >= n) continue;
      const auto& q = plan.questions[static_cast<std::size_t>(r.index)];
      if (r.prompt_hash != q.prompt_hash || r.label != q.label) continue;
      auto& slot = done[static_cast<std::size_t>(r.index)];
      if (!slot) ++reused;
      slot = r;
      slot->order = q.order;
    }
    log(fmt::format("probe: --resume: {} answered questions reused from {}", reused, log_path.string()));
  }
  ProbeLog probe_log(log_path, !c.resume);
  if (!probe_log.repair_note().empty()) log(fmt::format("probe: {}", probe_log.repair_note()));

  // When a sequential rule stops the run, the summary counts exactly the answers it read (positions up
  // to `counted_through`), so the accuracy printed beside the verdict is the one it decided on; answers
  // that arrived later stay in probe.jsonl only. Re-asked failures count as errors, never as answers.
  std::optional<std::int64_t> counted_through;
  std::int64_t requeued_errors = 0;
  const auto finish = [&](ProbeVerdict v, std::string reason) -> ProbeRun& {
    for (const auto& d : done) {
      if (d && (!counted_through || d->order <= *counted_through)) run.questions.push_back(*d);
    }
    tally(s, run.questions);
    s.errors += requeued_errors;
    s.verdict = v;
    if (!reason.empty()) s.reasons.push_back(std::move(reason));
    s.exit_code = exit_code_of(v);
    // The verdict can never contradict the threshold printed beside it.
    if (v == ProbeVerdict::Pass && s.min_accuracy && s.accuracy < *s.min_accuracy) {
      throw std::logic_error(fmt::format("probe: PASS with accuracy {} below the applied threshold {}", s.accuracy,
                                         *s.min_accuracy));
    }
    s.finished_at = utc_now_iso8601();
    probe_log.sync();
    write_probe_reports(c.out_dir, s, run.questions, std::getenv("GITHUB_STEP_SUMMARY"));
    return run;
  };

  // Readiness, identity, warm-up: failures here are the environment's, before any question. A signal
  // here aborts the transfer in flight (http.cancel) and ends the run as interrupted (exit 130).
  HttpPoolOptions setup_http = c.http;
  setup_http.cancel = hooks.interrupted;
  try {
    if (c.wait_ready_s > 0) {
      log(fmt::format("probe: waiting up to {:.0f} s for {} to become ready", c.wait_ready_s, c.http.base_url));
      try {
        wait_ready(setup_http, c.wait_ready_s, 1.0, log);
      } catch (const InfraError&) {
        run.server_not_ready = !interrupted();
        throw;
      }
    }
    const ServerIdentity id = discover_server(setup_http, c.api, c.model, c.api_key_env);
    s.server = {{"model", id.model}, {"base_url", c.http.base_url}, {"api", std::string(api_name(c.api))}};
    if (id.model_info) s.server["model_info"] = *id.model_info;
    if (id.models) s.server["models"] = *id.models;
    log(fmt::format("probe: server {} serves '{}' ({} API)", c.http.base_url, id.model, api_name(c.api)));
    if (c.warmup) warm_up(c, id.model, plan.shot_prefix);
  } catch (const InfraError& e) {
    if (interrupted()) {
      s.stop_reason = "interrupted";
      return finish(ProbeVerdict::Interrupted, "interrupted before the first question");
    }
    s.stop_reason = "no question asked: the server is not usable";
    return finish(ProbeVerdict::Infra, e.what());
  }

  SprtConfig sprt_config = c.sprt;
  sprt_config.max_questions = n;
  sprt_config.fallback_threshold = fallback_threshold(c);
  std::optional<Sprt> sprt;
  if (c.stop == StopRule::Sprt) sprt.emplace(sprt_config);
  std::optional<Gate> gate;
  if (c.stop == StopRule::Gate) gate.emplace(plan_gate(effective_gate(c, n)));
  // The gate and the paired comparison need every planned question answered: a failed question is
  // asked again (never scored) until answered or the error budget runs out.
  const bool complete_all = gate.has_value() || c.baseline.has_value();
  const auto rule_decided = [&] {
    return (sprt && sprt->decision() != SprtDecision::Continue) || (gate && gate->decision() != GateDecision::Continue);
  };
  // A decided rule ends the run early, except that with a baseline only a failure does: the paired
  // test needs all the questions.
  const auto rule_stops_run = [&] {
    if (sprt && sprt->decision() != SprtDecision::Continue) return !c.baseline || sprt->decision() == SprtDecision::Broken;
    if (gate && gate->decision() != GateDecision::Continue) return !c.baseline || gate->decision() == GateDecision::Fail;
    return false;
  };
  OrderedFeed feed(n);
  for (const auto& d : done) {
    if (d) feed.record(d->order, d->correct);
  }

  const std::string path = generation_path(c.api);
  const std::string model = s.server["model"].get<std::string>();
  const Api api = c.api;
  HttpPool pool = make_generation_pool(c);

  std::int64_t next_order = 0, errors = 0, answered_now = 0;
  std::vector<std::int64_t> ask_again;  // indices of failed questions to re-ask (complete_all)
  std::optional<std::int64_t> decided_at;  // the permutation position of the answer that decided the rule
  const auto lookahead = static_cast<std::int64_t>(2 * c.http.max_in_flight);
  const auto max_errors = static_cast<std::int64_t>(std::floor(c.max_error_rate * static_cast<double>(n)));
  std::optional<ProbeVerdict> early;  // set when the run stops before every question finished
  std::string early_reason;
  const auto t0 = Clock::now();
  auto last_progress = t0;
  while (true) {
    // Feed the sequential rule in permutation order and see whether it has decided.
    for (const auto& r : feed.release_ordered()) {
      if (rule_decided()) break;
      if (sprt) sprt->add(r.correct);
      if (gate) gate->add(r.correct);
      if (rule_decided()) decided_at = r.order;
    }
    if (rule_stops_run()) {
      counted_through = decided_at;
      s.stop_reason = sprt ? sprt_stop_reason(*sprt, sprt_config.fallback_threshold) : gate_reason(*gate);
      break;
    }
    if (errors > max_errors) {
      early = ProbeVerdict::Infra;
      early_reason = fmt::format("{} requests failed, more than --max-error-rate {} of {} questions ({}); the last: {}",
                                 errors, c.max_error_rate, n, max_errors, s.stop_reason);
      s.stop_reason = fmt::format("stopped: {} infrastructure errors", errors);
      break;
    }
    if (interrupted()) {
      early = ProbeVerdict::Interrupted;
      early_reason = fmt::format("interrupted after {} answers; rerun with --resume to continue", answered_now);
      s.stop_reason = "interrupted";
      break;
    }
    if (feed.released_positions() == n) {
      s.stop_reason = fmt::format("all {} questions finished", n);
      break;
    }
    // With the SPRT alone, requests run at most `lookahead` positions past the first unfinished one:
    // answers are fed in permutation order, so anything further out cannot speed up the verdict and is
    // wasted work when the test stops. Twice the parallelism keeps the pipe full past one slow answer.
    // The gate and a paired run ask every question unless they fail, so they do not hold back.
    const std::int64_t horizon = sprt && !c.baseline ? feed.released_positions() + lookahead : n;
    while (pool.pending() < c.http.max_in_flight && !ask_again.empty()) {
      const auto& q = plan.questions[static_cast<std::size_t>(ask_again.back())];
      ask_again.pop_back();
      pool.submit({static_cast<std::uint64_t>(q.index), "POST", path, generation_body(api, model, q.prompt, c.sampling)});
    }
    while (pool.pending() < c.http.max_in_flight && next_order < std::min(n, horizon)) {
      const auto idx = plan.by_order[static_cast<std::size_t>(next_order++)];
      if (done[static_cast<std::size_t>(idx)]) continue;
      const auto& q = plan.questions[static_cast<std::size_t>(idx)];
      pool.submit({static_cast<std::uint64_t>(idx), "POST", path, generation_body(api, model, q.prompt, c.sampling)});
    }
    for (const HttpOutcome& o : pool.poll(100)) {
      const auto& q = plan.questions[static_cast<std::size_t>(o.request.tag)];
      ProbeQuestionRecord r = make_record(q, o, c);
      probe_log.append(r);
      if (!r.error.empty()) {
        ++errors;
        if (errors <= 3) log(fmt::format("probe: question {} (line {}): {}", q.index, q.line, r.error));
        s.stop_reason = r.error;  // the latest error, quoted if the error budget runs out
        if (complete_all) {
          ask_again.push_back(q.index);
          ++requeued_errors;
          continue;
        }
      } else {
        ++answered_now;
      }
      feed.record(q.order, r.error.empty() ? std::optional<bool>(r.correct) : std::nullopt);
      done[static_cast<std::size_t>(q.index)] = std::move(r);
    }
    if (seconds_since(last_progress) >= c.progress_interval_s) {
      last_progress = Clock::now();
      const double el = seconds_since(t0);
      std::string line = fmt::format("probe: {}/{} finished, {} errors, {:.0f} answers/s", feed.released_positions(), n,
                                     errors, el > 0 ? static_cast<double>(answered_now) / el : 0.0);
      if (sprt) {
        line += fmt::format(", SPRT LLR {:.3f} in ({:.3f}, {:.3f}) after {}", sprt->llr(), sprt->lower(),
                            sprt->upper(), sprt->observations());
      }
      if (gate) line += fmt::format(", gate {} of {} right so far", gate->correct(), gate->observations());
      log(line);
    }
  }
  s.wall_s = seconds_since(t0);
  pool.cancel_all();
  if (early) {
    if (sprt) s.sprt = sprt_state(*sprt);
    if (gate) s.gate = gate_state_record(*gate);
    return finish(*early, early_reason);
  }

  // The verdict. Every rule that applies must pass; each failing rule adds its reason.
  std::vector<std::string> failed;
  std::int64_t answered = 0;
  for (const auto& d : done) {
    if (d && d->error.empty() && (!counted_through || d->order <= *counted_through)) ++answered;
  }
  if (answered == 0) return finish(ProbeVerdict::Infra, "no question was answered");
  if (sprt) {
    if (sprt->decision() == SprtDecision::Continue) {
      // Questions ran out (errors are not observations) before a boundary or the truncation point.
      sprt->decide_by_fallback();
      s.stop_reason = sprt_stop_reason(*sprt, sprt_config.fallback_threshold);
    }
    s.sprt = sprt_state(*sprt);
    if (sprt->stop() == SprtStop::Truncated) s.min_accuracy = sprt_config.fallback_threshold;
    if (sprt->decision() == SprtDecision::Broken) {
      failed.push_back(fmt::format("the sequential test says broken: accuracy is nearer {} than {} ({})", c.sprt.p_bad,
                                   c.sprt.p_good, sprt_stop_reason(*sprt, sprt_config.fallback_threshold)));
    }
  } else if (gate) {
    if (gate->decision() == GateDecision::Continue) {
      return finish(ProbeVerdict::Infra, fmt::format("the gate read {} of {} questions and is undecided",
                                                     gate->observations(), n));
    }
    s.gate = gate_state_record(*gate);
    s.min_accuracy = static_cast<double>(gate->plan().min_correct) / static_cast<double>(n);
    s.stop_reason = gate_reason(*gate);
    if (gate->decision() == GateDecision::Fail) failed.push_back(s.stop_reason);
  } else if (c.min_accuracy) {
    std::int64_t correct = 0;
    for (const auto& d : done) correct += d && d->error.empty() && d->correct ? 1 : 0;
    const double accuracy = static_cast<double>(correct) / static_cast<double>(answered);
    if (accuracy < *c.min_accuracy) {
      failed.push_back(fmt::format("accuracy {:.3f} ({} of {}) is below --min-accuracy {:.3f}", accuracy, correct,
                                   answered, *c.min_accuracy));
    }
  }
  if (c.baseline && counted_through) {
    failed.push_back("paired comparison not made: the run stopped early on a failure, before every question was asked");
  } else if (c.baseline) {
    std::vector<ProbeQuestionRecord> current;
    for (const auto& d : done) {
      if (d) current.push_back(*d);
    }
    const double paired_alpha = effective_paired_alpha(c);
    s.paired = compare_with_baseline(*c.baseline, current, paired_alpha);
    if (s.paired->regression) {
      failed.push_back(fmt::format("worse than the baseline on the same {} questions: {} lost, {} gained, McNemar p = "
                                   "{:.4g} < {}",
                                   s.paired->paired, s.paired->baseline_only, s.paired->candidate_only,
                                   s.paired->p_value, paired_alpha));
    }
  }
  if (c.agree_with) {
    std::vector<ProbeQuestionRecord> current;
    for (const auto& d : done) {
      if (d) current.push_back(*d);
    }
    s.agreement = compare_agreement(*c.agree_with, current, c.sampling.top_logprobs, c.min_agreement);
    if (s.agreement->disagrees) {
      failed.push_back(fmt::format("greedy answers differ from the baseline's: {}", report::agreement_line(*s.agreement)));
    }
  }
  if (failed.empty()) return finish(ProbeVerdict::Pass, "");
  s.reasons = std::move(failed);
  return finish(ProbeVerdict::Regression, "");
}

}  // namespace mxg::probe
