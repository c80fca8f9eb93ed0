// One probe run: readiness, discovery, warm-up, the batch (bounded in flight, retried, fed to the
// stopping rule in permutation order), the verdict. Outputs are written as the run goes
// (probe.jsonl, one line per finished question) and at its end (probe.json, junit.xml, summary.md).
#pragma once

#include <atomic>
#include <functional>
#include <string_view>
#include <vector>

#include "harness/probe/probe_config.hpp"
#include "reports/probe_result.hpp"

namespace mxg::probe {

struct ProbeHooks {
  std::function<void(std::string_view)> log;        // progress and warnings, one line each (stderr)
  const std::atomic<bool>* interrupted = nullptr;   // set by SIGINT/SIGTERM: stop, keep what was answered
};

struct ProbeRun {
  report::ProbeSummary summary;
  std::vector<report::ProbeQuestionRecord> questions;  // finished questions, by index
  bool server_not_ready = false;  // the server never became ready (--bisect maps it to "cannot test")
};

// Runs the probe. Input problems (data, baseline, options) -> mxg::InputError before any request.
// Infrastructure failures do not throw: they end the run with verdict INFRA (exit code 3) and the
// reason, so the outputs still say what happened.
ProbeRun run_probe(const ProbeConfig& config, const ProbeHooks& hooks);

}  // namespace mxg::probe
