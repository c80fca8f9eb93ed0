// Persistent-worker backend: start, hello, one request per combination, restart after a failure
// (see worker_backend.hpp and EXTERNAL_PROTOCOL.md, "Version 2").
#include "kernels/backend/worker_backend.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "kernels/backend/problem_file.hpp"
#include "kernels/backend/problem_name.hpp"
#include "kernels/backend/temp_dir.hpp"
#include "kernels/backend/worker_process.hpp"
#include "kernels/backend/worker_protocol.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/seconds.hpp"

namespace mxg {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTailLines = 20;
// How long a worker may take to exit after its stdin closes (end of run, or after a fatal error).
constexpr auto kStopGrace = std::chrono::seconds(5);

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

class WorkerBackend final : public FusedMoeBackend {
 public:
  explicit WorkerBackend(WorkerBackendSettings s) : s_(std::move(s)), dir_("mxguard-worker") {
    if (!s_.log) s_.log = [](const std::string& line) { fmt::print(stderr, "mxguard: {}\n", line); };
    start("started");
  }
  ~WorkerBackend() override {
    if (worker_) worker_->stop(kStopGrace);
  }

  BackendInfo info() const override { return info_; }

  Tensor run(const FusedMoeProblem& problem) override { return run_combination(problem, ""); }

  Tensor run_combination(const FusedMoeProblem& problem, std::string_view id) override {
    validate_problem(problem);
    if (worker_ && !worker_->running()) {
      // It ended between requests (after a fatal answer, or killed from outside): not this combination's fault.
      const std::string why = fmt::format("exited between requests ({})", worker_->status());
      worker_.reset();
      start("restarted: the previous one " + why);
    } else if (!worker_) {
      start("restarted: " + restart_reason_);
    }

    const std::string n = std::to_string(++sequence_);
    // Named by the combination id (an adapter that keeps its inputs keeps one file per combination);
    // the sequence number keeps names apart when a caller repeats an id.
    const auto request_dir = dir_.path() / n;
    std::filesystem::create_directories(request_dir);
    const auto in = request_dir / problem_file_name(id);
    const auto out = request_dir / "y.safetensors";
    struct Cleanup {
      std::filesystem::path dir;
      ~Cleanup() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
      }
    } cleanup{request_dir};
    write_problem(in, problem);

    const worker::Request request{std::string(id), in.string(), out.string()};
    const std::string what = id.empty() ? std::string("the request") : fmt::format("'{}'", id);
    if (!worker_->write_line(worker::format_request(request))) {
      worker_->stop(kStopGrace);
      fail(fmt::format("worker exited ({}) before it took {}", worker_->status(), what));
    }
    const auto reply = worker_->read_line({Clock::now() + timeout_duration(), worker::kMaxLineBytes, s_.rss_limit_bytes});
    switch (reply.status) {
      case proc::LineStatus::Line:
        break;
      case proc::LineStatus::Timeout:
        worker_->kill();
        fail(fmt::format("worker did not answer {} within --timeout {:g} s (its process group was killed)", what,
                         s_.timeout_seconds));
      case proc::LineStatus::Closed:
        worker_->stop(std::chrono::seconds(1));
        fail(fmt::format("worker exited ({}) while running {}", worker_->status(), what));
      case proc::LineStatus::TooLong:
        worker_->kill();
        fail(fmt::format("worker answered garbage while running {}: a stdout line longer than {} bytes", what,
                         worker::kMaxLineBytes));
      case proc::LineStatus::MemoryLimit:
        worker_->kill();
        fail(fmt::format("worker's resident memory reached {:.0f} MiB while running {}, past the {:.0f} MiB limit "
                         "(--worker-rss-limit)",
                         mib(reply.rss_bytes), what, mib(s_.rss_limit_bytes)));
    }

    worker::Response response;
    try {
      response = worker::parse_response(reply.line);
    } catch (const InputError& e) {
      worker_->kill();
      fail(fmt::format("worker answered garbage while running {}: {}", what, e.what()));
    }
    if (response.id != request.id) {
      worker_->kill();
      fail(fmt::format("worker answered garbage while running {}: the result is for id '{}'", what, response.id));
    }
    if (!response.ok) {
      if (response.fatal) {
        worker_->stop(kStopGrace);
        restart_reason_ = "the previous one stopped after a fatal error";
        worker_.reset();
        throw InfraError(fmt::format("worker failed on {} and stopped: {}", what, response.message));
      }
      throw InfraError(fmt::format("worker failed on {}: {}", what, response.message));
    }
    if (!std::filesystem::exists(out)) {
      throw InfraError(fmt::format("worker answered ok for {} but wrote no output file {}", what, out.string()));
    }
    try {
      return read_output(out, problem.tokens(), problem.hidden_size());
    } catch (const InputError& e) {
      throw InfraError(fmt::format("worker answered ok for {} but its output is malformed: {}", what, e.what()));
    }
  }

 private:
  Clock::duration timeout_duration() const {
    return seconds_to_duration(s_.timeout_seconds);
  }
  std::string describe() const {
    return s_.device ? fmt::format("'{}' (device {})", s_.command, *s_.device) : fmt::format("'{}'", s_.command);
  }
  std::string excerpt() {
    const std::string tail = worker_ ? worker_->stderr_tail(kTailLines) : std::string();
    return tail.empty() ? std::string("it wrote nothing to stderr")
                        : fmt::format("last {} lines of its stderr:\n{}", kTailLines, tail);
  }

  // The worker is gone or unusable: the next combination gets a fresh one; this one is an ERROR.
  [[noreturn]] void fail(const std::string& what) {
    const std::string message = fmt::format("{}; worker {}\n{}", what, describe(), excerpt());
    restart_reason_ = what;
    worker_.reset();
    throw InfraError(message);
  }

  void start(const std::string& event) {
    proc::WorkerSpawn spawn{s_.command, std::filesystem::current_path(),
                            {{std::string(worker::kProtocolEnv), std::string(worker::kProtocolVersion)}}};
    if (s_.device) {
      for (auto& kv : device_environment(*s_.device)) spawn.env.push_back(std::move(kv));
    }
    worker_ = std::make_unique<proc::WorkerProcess>(spawn);
    ++starts_;
    const auto reply =
        worker_->read_line({Clock::now() + timeout_duration(), worker::kMaxLineBytes, s_.rss_limit_bytes});
    std::string failure;
    switch (reply.status) {
      case proc::LineStatus::Line:
        try {
          hello_ = worker::parse_hello(reply.line);
        } catch (const InputError& e) {
          failure = fmt::format("its first line is not a hello: {}", e.what());
        }
        break;
      case proc::LineStatus::Timeout:
        failure = fmt::format("no hello within --timeout {:g} s", s_.timeout_seconds);
        break;
      case proc::LineStatus::Closed:
        worker_->stop(std::chrono::seconds(1));
        failure = fmt::format("it exited ({}) before its hello", worker_->status());
        break;
      case proc::LineStatus::TooLong:
        failure = fmt::format("its first stdout line is longer than {} bytes", worker::kMaxLineBytes);
        break;
      case proc::LineStatus::MemoryLimit:
        failure = fmt::format("its resident memory reached {:.0f} MiB before its hello, past the {:.0f} MiB limit",
                              mib(reply.rss_bytes), mib(s_.rss_limit_bytes));
        break;
    }
    if (!failure.empty()) {
      worker_->kill();
      const std::string message =
          fmt::format("worker {} did not start: {}\n{}", describe(), failure, excerpt());
      restart_reason_ = "the previous start failed";
      worker_.reset();
      throw InfraError(message);
    }
    info_.backend = s_.backend_name;
    info_.kernel = hello_.kernel + (hello_.kernel_version.empty() ? "" : " " + hello_.kernel_version);
    info_.device = (hello_.device.empty() ? std::string("unnamed device") : hello_.device) +
                   (s_.device ? fmt::format(" [device {}]", *s_.device) : "") + s_.device_note;
    info_.versions = hello_.versions;
    std::string versions;
    for (const auto& [name, version] : hello_.versions) versions += fmt::format("{}{} {}", versions.empty() ? "" : ", ", name, version);
    s_.log(fmt::format("worker {} {} (start {}, pid {}): kernel {} on {}{}", describe(), event, starts_,
                       worker_->pid(), info_.kernel, info_.device, versions.empty() ? "" : "; " + versions));
  }

  WorkerBackendSettings s_;
  TempDir dir_;
  std::unique_ptr<proc::WorkerProcess> worker_;
  worker::Hello hello_;
  BackendInfo info_;
  std::string restart_reason_;
  int starts_ = 0;
  std::uint64_t sequence_ = 0;
};

}  // namespace

std::unique_ptr<FusedMoeBackend> make_worker_backend(WorkerBackendSettings settings) {
  if (settings.command.empty()) throw InputError("--kernel-worker: empty command");
  if (!(settings.timeout_seconds > 0)) {
    throw InputError(fmt::format("--timeout: {} s, expected a positive number", settings.timeout_seconds));
  }
  return std::make_unique<WorkerBackend>(std::move(settings));
}

std::vector<std::pair<std::string, std::string>> device_environment(int device) {
  if (device < 0) throw InputError(fmt::format("--devices: {} is not a device index", device));
  std::vector<std::pair<std::string, std::string>> env;
  const char* names[] = {"HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"};
  for (int i = 0; i < 2; ++i) {
    // Index into the list this mxguard already runs under (its own or the other runtime's variable).
    const char* own = std::getenv(names[i]);
    const char* other = std::getenv(names[1 - i]);
    const char* list = own != nullptr && *own != '\0' ? own : other;
    const char* list_name = own != nullptr && *own != '\0' ? names[i] : names[1 - i];
    std::string value = std::to_string(device);
    if (list != nullptr && *list != '\0') {
      const auto items = split_list(list);
      if (static_cast<std::size_t>(device) >= items.size()) {
        throw InputError(fmt::format("--devices: device {}, but mxguard runs with {}={} ({} visible)", device,
                                     list_name, list, items.size()));
      }
      value = items[static_cast<std::size_t>(device)];
    }
    env.emplace_back(names[i], value);
  }
  env.emplace_back("MXGUARD_DEVICE", std::to_string(device));
  return env;
}

}  // namespace mxg
