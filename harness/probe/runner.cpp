// The probe run (stages and failure handling: runner.hpp).
#include "harness/probe/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "harness/probe/agreement.hpp"
#include "harness/probe/ordered_feed.hpp"
#include "harness/probe/paired_baseline.hpp"
#include "harness/probe/probe_outputs.hpp"
#include "harness/probe/question_plan.hpp"
#include "harness/probe/run_config_json.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/utc_time.hpp"
#include "reports/probe_report.hpp"

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

}  // namespace

ProbeRun run_probe(const ProbeConfig& c, const ProbeHooks& hooks) {
  validate(c);
  const auto log = [&](std::string_view line) {
    if (hooks.log) hooks.log(line);
  };
  const auto interrupted = [&] { return hooks.interrupted && hooks.interrupted->load(); };

  const QuestionPlan plan = make_question_plan(c);
  const auto n = static_cast<std::int64_t>(plan.questions.size());
  if (c.baseline) report::load_probe_jsonl(*c.baseline);  // an unreadable baseline is an input error: say it now
  if (c.agree_with) {
    try {
      report::load_probe_jsonl(*c.agree_with);
    } catch (const InputError& e) {
      throw InputError(fmt::format("--agree-with: {}", e.what()));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(c.out_dir, ec);
  if (ec) throw InputError(fmt::format("--out {}: cannot create the folder: {}", c.out_dir.string(), ec.message()));

  ProbeRun run;
  report::ProbeSummary& s = run.summary;
  s.tool_version = "mxguard 0.1.0";
  s.started_at = utc_now_iso8601();
  s.config = run_config_json(c);
  s.planned = n;
  s.stop_rule = c.stop == StopRule::Sprt ? "sprt" : "fixed";
  s.min_accuracy = c.min_accuracy;

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

  const auto finish = [&](ProbeVerdict v, std::string reason) -> ProbeRun& {
    for (const auto& d : done) {
      if (d) run.questions.push_back(*d);
    }
    tally(s, run.questions);
    s.verdict = v;
    if (!reason.empty()) s.reasons.push_back(std::move(reason));
    s.exit_code = exit_code_of(v);
    s.finished_at = utc_now_iso8601();
    probe_log.sync();
    write_probe_reports(c.out_dir, s, run.questions, std::getenv("GITHUB_STEP_SUMMARY"));
    return run;
  };

  // Readiness, identity, warm-up: failures here are the environment's, before any question.
  try {
    if (c.wait_ready_s > 0) {
      log(fmt::format("probe: waiting up to {:.0f} s for {} to become ready", c.wait_ready_s, c.http.base_url));
      try {
        wait_ready(c.http, c.wait_ready_s, 1.0, log);
      } catch (const InfraError&) {
        run.server_not_ready = true;
        throw;
      }
    }
    const ServerIdentity id = discover_server(c.http, c.api, c.model, c.api_key_env);
    s.server = {{"model", id.model}, {"base_url", c.http.base_url}, {"api", std::string(api_name(c.api))}};
    if (id.model_info) s.server["model_info"] = *id.model_info;
    if (id.models) s.server["models"] = *id.models;
    log(fmt::format("probe: server {} serves '{}' ({} API)", c.http.base_url, id.model, api_name(c.api)));
    if (c.warmup) warm_up(c, id.model, plan.shot_prefix);
  } catch (const InfraError& e) {
    s.stop_reason = "no question asked: the server is not usable";
    return finish(ProbeVerdict::Infra, e.what());
  }

  SprtConfig sprt_config = c.sprt;
  sprt_config.max_questions = n;
  sprt_config.fallback_threshold = fallback_threshold(c);
  std::optional<Sprt> sprt;
  if (c.stop == StopRule::Sprt) sprt.emplace(sprt_config);
  OrderedFeed feed(n);
  for (const auto& d : done) {
    if (d) feed.record(d->order, d->correct);
  }

  const std::string path = generation_path(c.api);
  const std::string model = s.server["model"].get<std::string>();
  const Api api = c.api;
  HttpPool pool = make_generation_pool(c);

  std::int64_t next_order = 0, errors = 0, answered_now = 0;
  const auto lookahead = static_cast<std::int64_t>(2 * c.http.max_in_flight);
  const auto max_errors = static_cast<std::int64_t>(std::floor(c.max_error_rate * static_cast<double>(n)));
  std::optional<ProbeVerdict> early;  // set when the run stops before every question finished
  std::string early_reason;
  const auto t0 = Clock::now();
  auto last_progress = t0;
  while (true) {
    // Feed the sequential test in permutation order and see whether it has decided.
    for (const bool correct : feed.release()) {
      if (sprt && sprt->decision() == SprtDecision::Continue) sprt->add(correct);
    }
    if (sprt && sprt->decision() != SprtDecision::Continue) {
      s.stop_reason = sprt_stop_reason(*sprt, sprt_config.fallback_threshold);
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
    // With a sequential test, requests run at most `lookahead` positions past the first unfinished one:
    // answers are fed in permutation order, so anything further out cannot speed up the verdict and is
    // wasted work when the test stops. Twice the parallelism keeps the pipe full past one slow answer.
    const std::int64_t horizon = sprt ? feed.released_positions() + lookahead : n;
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
      log(line);
    }
  }
  s.wall_s = seconds_since(t0);
  pool.cancel_all();
  if (early) {
    if (sprt) s.sprt = sprt_state(*sprt);
    return finish(*early, early_reason);
  }

  // The verdict. Every rule that applies must pass; each failing rule adds its reason.
  std::vector<std::string> failed;
  std::int64_t answered = 0, correct = 0;
  for (const auto& d : done) {
    if (d && d->error.empty()) {
      ++answered;
      correct += d->correct ? 1 : 0;
    }
  }
  if (answered == 0) return finish(ProbeVerdict::Infra, "no question was answered");
  const double accuracy = static_cast<double>(correct) / static_cast<double>(answered);
  if (sprt) {
    if (sprt->decision() == SprtDecision::Continue) {
      // Questions ran out (errors are not observations) before a boundary or the truncation point.
      sprt->decide_by_fallback();
      s.stop_reason = sprt_stop_reason(*sprt, sprt_config.fallback_threshold);
    }
    s.sprt = sprt_state(*sprt);
    if (sprt->decision() == SprtDecision::Broken) {
      failed.push_back(fmt::format("the sequential test says broken: accuracy is nearer {} than {} ({})", c.sprt.p_bad,
                                   c.sprt.p_good, s.stop_reason));
    }
  } else if (c.min_accuracy && accuracy < *c.min_accuracy) {
    failed.push_back(fmt::format("accuracy {:.3f} is below --min-accuracy {:.3f}", accuracy, *c.min_accuracy));
  }
  if (c.baseline) {
    std::vector<ProbeQuestionRecord> current;
    for (const auto& d : done) {
      if (d) current.push_back(*d);
    }
    s.paired = compare_with_baseline(*c.baseline, current, c.paired_alpha);
    if (s.paired->regression) {
      failed.push_back(fmt::format("worse than the baseline on the same questions: {} lost, {} gained, McNemar p = {:.4g}",
                                   s.paired->baseline_only, s.paired->candidate_only, s.paired->p_value));
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
