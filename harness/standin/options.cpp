// validate(): the ranges of StandinOptions; a bad value is an InputError naming the CLI option.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "harness/standin/standin_server.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::standin {
namespace {

[[noreturn]] void reject(std::string_view option, const std::string& value, std::string_view why) {
  throw InputError(fmt::format("mxguard standin: {} {}: {}", option, value, why));
}

void check_probability(std::string_view option, double v) {
  if (!(v >= 0.0 && v <= 1.0)) reject(option, fmt::format("{}", v), "must be a probability in [0, 1]");
}

void check_nonnegative(std::string_view option, double v, double max) {
  if (!(v >= 0.0 && v <= max)) reject(option, fmt::format("{}", v), fmt::format("must be in [0, {}]", max));
}

}  // namespace

void validate(const StandinOptions& o) {
  if (o.host.empty()) reject("--host", "\"\"", "must name an address to bind, e.g. 127.0.0.1");
  if (o.port < 0 || o.port > 65535) reject("--port", std::to_string(o.port), "must be in [0, 65535] (0 = any free port)");
  if (o.model_path.empty()) reject("--model-path", "\"\"", "must not be empty (clients read it from /get_model_info)");
  check_probability("--accuracy", o.accuracy);
  if (o.collapse_after < -1) {
    reject("--collapse-after", std::to_string(o.collapse_after), "must be >= 0 answers, or -1 for never");
  }
  check_probability("--collapse-accuracy", o.collapse_accuracy);
  check_probability("--error-rate", o.error_rate);
  if (o.error_status != 429 && o.error_status != 500 && o.error_status != 503) {
    reject("--error-status", std::to_string(o.error_status), "must be 429, 500 or 503");
  }
  // An hour bounds the sleeps so that a typo (ms vs s) cannot wedge a CI job for days.
  check_nonnegative("--latency-ms", o.latency_ms, 3'600'000.0);
  check_probability("--hang-rate", o.hang_rate);
  check_probability("--malformed-rate", o.malformed_rate);
  check_probability("--drop-rate", o.drop_rate);
  check_probability("--abort-rate", o.abort_rate);
  check_probability("--truncate-rate", o.truncate_rate);
  check_nonnegative("--ready-after", o.ready_after_s, 3600.0);
  if (o.api_key && o.api_key->empty()) reject("--api-key-env", "\"\"", "the API key must not be empty");
  // Each keep-alive connection holds a thread, so the pool bounds the client's parallelism.
  if (o.threads < 1 || o.threads > 4096) reject("--threads", std::to_string(o.threads), "must be in [1, 4096]");
}

}  // namespace mxg::standin
