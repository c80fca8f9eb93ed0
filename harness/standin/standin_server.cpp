// StandinServer: the HTTP routes (cpp-httplib), the injected faults applied to generation requests, and
// the server's lifecycle (bind, serve on a thread, release hung requests, stop).
#include "harness/standin/standin_server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <httplib.h>

#include "harness/standin/answer_writer.hpp"
#include "harness/standin/draws.hpp"
#include "harness/standin/fault_plan.hpp"
#include "harness/standin/generation.hpp"
#include "harness/standin/pipelining_server.hpp"
#include "harness/standin/question_index.hpp"
#include "harness/standin/request_parse.hpp"
#include "harness/standin/response_shapes.hpp"
#include "harness/standin/stats_recorder.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::standin {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kJson = "application/json";

// An idle keep-alive connection holds a pool thread until this timeout, and stop() waits for it; 5 s
// is uvicorn's default, so clients see the same connection reuse as against SGLang.
constexpr time_t kKeepAliveTimeoutS = 5;

void reply_error(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(error_body(status, message), kJson);
}

std::vector<std::string> questions_of(const std::vector<probe::Gsm8kItem>& data) {
  std::vector<std::string> questions;
  questions.reserve(data.size());
  for (const auto& item : data) questions.push_back(item.question);
  return questions;
}

}  // namespace

struct StandinServer::Impl {
  StandinOptions options;
  std::unordered_map<std::string, probe::Gsm8kItem> known;  // question text -> item
  QuestionIndex asked;  // which known question a prompt asks (the stand-in's own reading)
  StatsRecorder stats;
  PipeliningServer http;  // answers every request of a pipelined connection (httplib alone: the first)
  std::thread serve_thread;
  int bound_port = -1;
  int listen_fd = -1;
  Clock::time_point started_at;

  // Guards the lifecycle flags; `changed` wakes hung and sleeping handlers on stop and wait() callers.
  mutable std::mutex mutex;
  std::condition_variable changed;
  bool started = false;
  bool stopping = false;
  bool stopped = false;
  std::mutex stop_mutex;  // serialises stop() callers

  Impl(StandinOptions o, std::vector<probe::Gsm8kItem> data)
      : options(std::move(o)), asked(questions_of(data)) {
    validate(options);
    for (auto& item : data) {
      std::string question = item.question;
      known.try_emplace(std::move(question), std::move(item));  // duplicates: the first wins
    }
    add_routes();
  }

  bool is_stopping() const {
    std::lock_guard lock(mutex);
    return stopping;
  }

  // Sleeps up to `d`; returns early (true) when the server starts stopping.
  bool sleep_or_stop(std::chrono::duration<double, std::milli> d) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, d, [this] { return stopping; });
  }

  void hang_until_stop() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [this] { return stopping; });
  }

  bool ready() const {
    return std::chrono::duration<double>(Clock::now() - started_at).count() >= options.ready_after_s;
  }

  bool authorized(const httplib::Request& req) {
    if (!options.api_key) return true;
    if (req.get_header_value("Authorization") == "Bearer " + *options.api_key) return true;
    stats.fault("unauthorized");
    return false;
  }

  // The checks every guarded endpoint shares; false = the response is already set.
  bool admit(const httplib::Request& req, httplib::Response& res, bool needs_ready) {
    if (!authorized(req)) {
      reply_error(res, 401, "Unauthorized: missing or wrong API key (Authorization: Bearer <key>)");
      return false;
    }
    if (is_stopping()) {
      reply_error(res, 503, "the server is shutting down");
      return false;
    }
    if (needs_ready && !ready()) {
      stats.fault("not_ready");
      reply_error(res, 503, fmt::format("the server is not ready yet (--ready-after {} s)", options.ready_after_s));
      return false;
    }
    return true;
  }

  void add_routes() {
    for (const char* path : {"/health", "/health_generate"}) {
      // SGLang exempts health checks from the API key.
      http.Get(path, [this](const httplib::Request&, httplib::Response& res) {
        if (is_stopping()) return reply_error(res, 503, "the server is shutting down");
        if (!ready()) {
          stats.fault("not_ready");
          return reply_error(res, 503, "the server is not ready yet");
        }
        res.status = 200;
      });
    }
    http.Get("/get_model_info", [this](const httplib::Request& req, httplib::Response& res) {
      if (admit(req, res, false)) res.set_content(model_info_body(options.model_path), kJson);
    });
    http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      if (admit(req, res, false)) res.set_content(models_body(options.model_path, std::time(nullptr)), kJson);
    });
    http.Get("/standin/stats", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(stats_to_json(stats.snapshot()), kJson);
    });
    const std::pair<const char*, Api> generation_routes[] = {
        {"/generate", Api::Sglang}, {"/v1/completions", Api::Completions}, {"/v1/chat/completions", Api::Chat}};
    for (const auto& [path, api] : generation_routes) {
      http.Post(path, [this, api = api](const httplib::Request& req, httplib::Response& res) { generate(api, req, res); });
    }
    // Called for every status >= 400, also ours: only bodiless ones (unknown paths) get a body here.
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty() || res.content_length_ > 0) return httplib::Server::HandlerResponse::Unhandled;
          res.set_content(
              error_body(res.status, fmt::format("{} {}: no such endpoint on the stand-in", req.method, req.path)), kJson);
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      reply_error(res, 500, fmt::format("stand-in internal error: {}", what));
    });
  }

  // What the model says to `question`: the answer kind and text. `counted` answers reserve an answer
  // slot (collapse_after counts them) and enter the stats; bodies built only to be broken do not.
  std::pair<AnswerKind, std::string> compose(const std::string& question, bool counted) {
    const auto it = known.find(question);
    if (it == known.end()) {
      if (counted) stats.answered(AnswerKind::Unknown);
      return {AnswerKind::Unknown, write_answer(AnswerKind::Unknown, options.seed, probe::Gsm8kItem{question, "", 0})};
    }
    double accuracy = options.accuracy;
    if (counted) {
      const std::int64_t index = stats.next_answer_index();
      if (options.collapse_after >= 0 && index >= options.collapse_after) accuracy = options.collapse_accuracy;
    }
    const AnswerKind kind = answers_correctly(options.seed, accuracy, question) ? AnswerKind::Correct
                                                                                 : wrong_kind(options.seed, question);
    if (counted) stats.answered(kind);
    return {kind, write_answer(kind, options.seed, it->second)};
  }

  void generate(Api api, const httplib::Request& req, httplib::Response& res) {
    const auto t0 = Clock::now();
    stats.generation_request();
    if (!admit(req, res, true)) return;
    GenerationRequest g;
    try {
      g = parse_generation_request(api, req.body);
    } catch (const BadRequest& e) {
      stats.bad_request();
      return reply_error(res, 400, e.what());
    }
    if (options.latency_ms > 0 && sleep_or_stop(std::chrono::duration<double, std::milli>(options.latency_ms))) {
      return reply_error(res, 503, "the server is shutting down");
    }
    const std::int64_t limit = g.max_tokens.value_or(default_max_tokens(api));
    const std::string question = asked.question_of(g.prompt);
    const std::uint64_t id_key = text_key(options.seed, question);
    ResponseMeta meta{"", options.model_path, 0, static_cast<std::int64_t>(std::time(nullptr))};
    const auto finish_meta = [&](std::uint64_t index) {
      meta.id = fmt::format("{:016x}{:016x}", draw_bits(id_key, Salt::Variant, 2 * index + 1000003),
                            draw_bits(id_key, Salt::Variant, 2 * index + 1000004));
      meta.e2e_latency = std::chrono::duration<double>(Clock::now() - t0).count();
    };
    if (limit == 0) {  // the warm-up: no fault, no answer
      stats.warmup();
      finish_meta(0);
      return res.set_content(generation_body(api, warmup_completion(g.prompt), meta), kJson);
    }
    const std::int64_t index = stats.next_request_index(question);
    const Fault fault = draw_fault(options, question, index);
    const std::uint64_t variant = fault_variant(options.seed, question, index);
    if (fault != Fault::None) stats.fault(fault_name(fault));
    finish_meta(static_cast<std::uint64_t>(index));
    switch (fault) {
      case Fault::Hang:
        hang_until_stop();
        res.set_header("Connection", "close");
        return reply_error(res, 503, "the server stopped while this request hung (--hang-rate)");
      case Fault::Error:
        return reply_error(res, options.error_status, fmt::format("injected error (--error-rate {})", options.error_rate));
      case Fault::Abort:
        return res.set_content(
            generation_body(api, aborted_completion(g.prompt, "request aborted by the stand-in (--abort-rate)"), meta), kJson);
      case Fault::Drop: {
        // Promise the whole body, send a part, then fail the provider: httplib closes the connection
        // and the client sees a transport error (fewer bytes than Content-Length), not a response.
        auto body = std::make_shared<std::string>(
            generation_body(api, shape_completion(g.prompt, compose(question, false).second, limit, g.stops), meta));
        const std::size_t sent = variant % body->size();
        return res.set_content_provider(body->size(), kJson,
                                        [body, sent](std::size_t, std::size_t, httplib::DataSink& sink) {
                                          if (sent > 0) sink.write(body->data(), sent);
                                          return false;
                                        });
      }
      case Fault::Malformed: {
        const auto c = shape_completion(g.prompt, compose(question, false).second, limit, g.stops);
        const auto broken = malformed_body(api, c, meta, variant);
        return res.set_content(broken.body, broken.content_type);
      }
      case Fault::Truncate:
        return res.set_content(generation_body(api, truncated_completion(g.prompt, compose(question, true).second), meta),
                               kJson);
      case Fault::None: break;
    }
    res.set_content(generation_body(api, shape_completion(g.prompt, compose(question, true).second, limit, g.stops), meta),
                    kJson);
  }

  void start() {
    {
      std::lock_guard lock(mutex);
      if (started) return;
      if (stopped) throw InfraError("mxguard standin: start() after stop(): make a new StandinServer");
      started = true;
    }
    const int threads = options.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    // The library's default connection limit (5 requests per keep-alive connection) would make a
    // pooled client reconnect constantly; a real server has no such cap.
    http.set_keep_alive_max_count(std::size_t{1} << 30);
    http.set_keep_alive_timeout(kKeepAliveTimeoutS);
    // Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    // delayed ACK (~40 ms a response).
    http.set_tcp_nodelay(true);
    // SO_REUSEADDR without the library's default SO_REUSEPORT, so a second server on a taken port fails
    // to bind instead of silently sharing it; the descriptor is kept to raise the listen backlog.
    http.set_socket_options([this](int fd) {
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_fd = fd;
    });
    errno = 0;
    if (options.port == 0) {
      bound_port = http.bind_to_any_port(options.host);
    } else {
      bound_port = http.bind_to_port(options.host, options.port) ? options.port : -1;
    }
    if (bound_port < 0) {
      const int err = errno;
      throw InfraError(fmt::format("mxguard standin: cannot bind {}:{} ({})", options.host, options.port,
                                   err != 0 ? std::strerror(err) : "address unavailable"));
    }
    // The compiled library listens with a backlog of 5; a probe opening 128 connections at once would
    // see SYNs dropped and retried a second later. Listening again only raises the backlog.
    if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
    started_at = Clock::now();
    serve_thread = std::thread([this] { http.listen_after_bind(); });
    // stop() before the accept loop runs would be lost (the library ignores stop() while not running).
    while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void stop() {
    std::lock_guard serial(stop_mutex);
    {
      std::lock_guard lock(mutex);
      if (stopped || !started) {
        stopped = true;
        changed.notify_all();
        return;
      }
      stopping = true;
    }
    changed.notify_all();  // hung and sleeping handlers return now, so the pool can join them
    http.stop();
    if (serve_thread.joinable()) serve_thread.join();
    {
      std::lock_guard lock(mutex);
      stopped = true;
    }
    changed.notify_all();
  }

  void wait() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [this] { return stopped; });
  }
};

StandinServer::StandinServer(StandinOptions options, std::vector<probe::Gsm8kItem> data)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(data))) {}

StandinServer::~StandinServer() { stop(); }

void StandinServer::start() { impl_->start(); }
int StandinServer::port() const { return impl_->bound_port; }
void StandinServer::stop() { impl_->stop(); }
void StandinServer::wait() { impl_->wait(); }
StandinStats StandinServer::stats() const { return impl_->stats.snapshot(); }

}  // namespace mxg::standin
