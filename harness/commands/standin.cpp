// `mxguard standin`: serve the stand-in GSM8K server (SGLang and OpenAI shapes, chosen accuracy,
// injected faults) until SIGINT/SIGTERM, or write its generated data set with --make-data.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "harness/command.hpp"
#include "harness/probe/gsm8k.hpp"
#include "harness/probe/gsm8k_synth.hpp"
#include "harness/standin/standin_server.hpp"
#include "harness/standin/stats_recorder.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"
#include "reports/file_io.hpp"

namespace mxg::cli {
namespace {

struct StandinCliOptions {
  standin::StandinOptions server;
  std::string data;         // GSM8K JSON Lines the server knows
  std::size_t questions = 1319;  // without --data: generated questions (the size of the test split)
  std::size_t make_data = 0;     // with --make-data: write that many generated questions and exit
  std::string out;          // --make-data destination (stdout when empty)
  std::string api_key_env;  // the name of the variable holding the key, never the key itself
};

// Generated questions are held in memory (~300 bytes each): 10^7 is ~3 GB, far beyond GSM8K's 1319;
// --make-data 1e11 used to end in std::bad_alloc.
constexpr std::size_t kMaxGenerated = 10'000'000;

int write_data(const StandinCliOptions& o) {
  const std::string jsonl = probe::to_gsm8k_jsonl(probe::generate_gsm8k(o.make_data, o.server.seed));
  if (o.out.empty()) {
    std::fwrite(jsonl.data(), 1, jsonl.size(), stdout);
    std::fflush(stdout);
    return exit_code::kPass;
  }
  // Temporary sibling + rename, refusing a symlink, device or FIFO at --out (never replaced).
  check_replaceable_output(o.out, fmt::format("--out {}", o.out));
  report::write_file_atomically(o.out, jsonl);
  return exit_code::kPass;
}

int serve(StandinCliOptions o) {
  if (!o.api_key_env.empty()) {
    const char* key = std::getenv(o.api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      throw InputError(fmt::format("mxguard standin: --api-key-env {}: the variable is not set or empty", o.api_key_env));
    }
    o.server.api_key = key;
  }
  standin::validate(o.server);  // before loading or generating data, so a typo fails at once
  if (o.questions == 0 && o.data.empty()) throw InputError("mxguard standin: --questions 0: must be at least 1");
  auto data = o.data.empty() ? probe::generate_gsm8k(o.questions, o.server.seed) : probe::load_gsm8k_jsonl(o.data);
  const std::size_t known = data.size();
  standin::StandinServer server(o.server, std::move(data));

  // Block the stop signals in every thread (the server's threads inherit the mask) and take them
  // synchronously on one watcher thread, which stops the server: no async-signal-unsafe handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  server.start();
  fmt::print("mxguard standin: listening on http://{}:{} ({} questions, accuracy {})\n", o.server.host, server.port(),
             known, o.server.accuracy);
  std::fflush(stdout);
  std::thread watcher([&server, stop_signals] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    server.stop();
  });
  server.wait();
  watcher.join();
  fmt::print(stderr, "{}\n", standin::stats_summary(server.stats()));
  return exit_code::kPass;
}

void add_standin(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "standin",
      "Serve a stand-in for an SGLang / OpenAI-compatible server that answers GSM8K few-shot prompts\n"
      "with a chosen accuracy and injected faults: rehearse `mxguard probe` and its CI wiring without a\n"
      "GPU. It finds the question a prompt asks (the text after the last \"Question: \"), looks it up in\n"
      "the data it knows and answers correctly with probability --accuracy: a worked solution ending in\n"
      "\"#### <label>\"; otherwise a wrong number, a rambling or a degenerate reply. Which questions are\n"
      "right is a fixed function of --seed and the question, so runs repeat exactly.\n"
      "Endpoints: GET /health /health_generate /get_model_info /v1/models /standin/stats,\n"
      "POST /generate (SGLang) /v1/completions /v1/chat/completions (OpenAI). Tokens are counted as\n"
      "whitespace-separated words. Prints one line \"mxguard standin: listening on http://HOST:PORT ...\"\n"
      "and serves until SIGINT/SIGTERM (exit 0, request counts on stderr).");
  auto o = std::make_shared<StandinCliOptions>();
  auto& s = o->server;
  cmd->add_option("--host", s.host, "Address to bind")->capture_default_str()->group("Server");
  cmd->add_option("--port", s.port, "Port to bind (0: any free port, printed on the first line)")
      ->capture_default_str()->group("Server");
  cmd->add_option("--model-path", s.model_path, "Model name reported by /get_model_info and /v1/models")
      ->capture_default_str()->group("Server");
  cmd->add_option("--api-key-env", o->api_key_env,
                  "Name of an environment variable holding an API key: requests without\n"
                  "\"Authorization: Bearer <key>\" get 401 (health checks exempt). The key is never printed")
      ->group("Server");
  cmd->add_option("--threads", s.threads, "Connection threads (each open keep-alive connection holds one)")
      ->capture_default_str()->group("Server");

  cmd->add_option("--data", o->data, "GSM8K JSON Lines whose questions it knows (labels = the right answers)")
      ->group("Data");
  cmd->add_option("--questions", o->questions, "Without --data: serve this many generated questions")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, kMaxGenerated))->group("Data");
  auto* make_data = cmd->add_option("--make-data", o->make_data,
                  "Write N generated questions (the set served without --data, same --seed) as JSON Lines\n"
                  "to --out or stdout and exit; give the file to both the stand-in and the probe (at most 10^7)")
      ->check(CLI::Range(std::size_t{0}, kMaxGenerated))
      ->group("Data");
  cmd->add_option("--out", o->out, "Destination of --make-data (default: stdout)")->group("Data");

  cmd->add_option("--accuracy", s.accuracy, "Probability that a known question is answered correctly")
      ->capture_default_str()->group("Model");
  cmd->add_option("--seed", s.seed, "Decides which questions are right, the texts and which requests fault")
      ->capture_default_str()->group("Model");
  cmd->add_option("--collapse-after", s.collapse_after,
                  "After this many answers, answer with --collapse-accuracy instead (-1: never): a build\n"
                  "that breaks mid-run, for the sequential test")
      ->capture_default_str()->group("Model");
  cmd->add_option("--collapse-accuracy", s.collapse_accuracy, "Accuracy after the collapse")
      ->capture_default_str()->group("Model");

  cmd->add_option("--error-rate", s.error_rate,
                  "Fraction of generations answered with HTTP --error-status and an SGLang error body")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--error-status", s.error_status, "Status of --error-rate: 429, 500 or 503")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--latency-ms", s.latency_ms, "Milliseconds added to every generation (client timeouts)")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--hang-rate", s.hang_rate,
                  "Fraction of generations never answered until the server stops (client timeouts)")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--malformed-rate", s.malformed_rate,
                  "Fraction answered 200 with a broken body: JSON cut in half, JSON without the text\n"
                  "field, or an HTML page")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--drop-rate", s.drop_rate,
                  "Fraction whose connection is closed mid-response (the client sees a transport error)")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--abort-rate", s.abort_rate,
                  "Fraction answered 200 with finish_reason abort and no text (a server-side failure,\n"
                  "never a wrong answer)")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--truncate-rate", s.truncate_rate,
                  "Fraction answered with half the answer and finish_reason length")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->add_option("--ready-after", s.ready_after_s,
                  "Seconds after start during which health checks and generations get 503 (model loading)")
      ->capture_default_str()->group("Faults (each drawn per request; a retry draws again)");
  cmd->footer(
      "Faults are drawn per generation request from (seed, question, the question's request count, kind),\n"
      "so a retried question draws again; warm-ups (max tokens 0) never fault. When several fire, the\n"
      "first of drop, hang, error, malformed, abort, truncate wins.\n"
      "Example rehearsal (a collapsed build must fail the probe with exit 1):\n"
      "  mxguard standin --make-data 1319 --out standin.jsonl\n"
      "  mxguard standin --data standin.jsonl --port 30000 --accuracy 0.21 --error-rate 0.05 &\n"
      "  mxguard probe --data standin.jsonl --base-url http://127.0.0.1:30000 --min-accuracy 0.79\n"
      "  kill %1\n"
      "Healthy server that fails mid-run, with flaky transport and a slow start:\n"
      "  mxguard standin --port 0 --accuracy 0.88 --collapse-after 50 --collapse-accuracy 0.2 \\\n"
      "      --drop-rate 0.02 --hang-rate 0.01 --ready-after 10");
  cmd->callback([&action, o, make_data] {
    const bool write_only = make_data->count() > 0;
    action = [o, write_only] {
      if (!write_only) return serve(*o);
      if (o->make_data == 0) throw InputError("mxguard standin: --make-data 0: must be at least 1 question");
      return write_data(*o);
    };
  });
}

const CommandRegistration registration{70, add_standin};

}  // namespace
}  // namespace mxg::cli
