// Concurrent HTTP exchanges over one libcurl multi handle (no thread per request), with retries:
// exponential backoff with full jitter, Retry-After honoured, a caller-supplied classifier deciding
// which outcomes are final, retryable or fatal.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::probe {

struct HttpPoolOptions {
  std::string base_url;                     // "http://127.0.0.1:30000" (a trailing '/' is tolerated)
  std::optional<std::string> bearer_token;  // sent as "Authorization: Bearer ..."; never logged
  std::size_t max_in_flight = 64;           // transfers running at once; more are queued
  double timeout_s = 600;                   // whole-transfer limit per attempt
  double connect_timeout_s = 10;
  // When set, a transfer stops (CURLE_ABORTED_BY_CALLBACK) within ~0.1 s of the flag turning true:
  // SIGINT/SIGTERM during --wait-ready or discovery must not wait out a 30 s health check.
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpRequest {
  std::uint64_t tag = 0;  // caller's id, returned with the outcome
  std::string method;     // "GET" or "POST" (POST bodies are sent as application/json)
  std::string path;       // "/generate"
  std::string body;
};

// The outcome of one attempt.
struct HttpAttempt {
  int curl_code = 0;            // CURLcode; 0 = the exchange completed (any status)
  std::string transport_error;  // curl's message when curl_code != 0 (connection refused, timeout, ...)
  long status = 0;              // HTTP status when curl_code == 0
  std::string body;
  std::optional<double> retry_after_s;  // Retry-After header (delta-seconds or HTTP date)
  double seconds = 0;                   // wall time of the attempt
};

// What the caller's classifier says about an attempt.
enum class AttemptClass {
  Final,      // an answer: hand it to the caller
  Retryable,  // transient (connection error, timeout, 429/502/503/504, aborted generation): try again
  Fatal,      // will not get better by retrying (400, 401, 404, ...): hand it to the caller now
};
using Classifier = std::function<AttemptClass(const HttpRequest&, const HttpAttempt&)>;

// Transport errors and 429/502/503/504 are Retryable, other non-2xx Fatal, 2xx Final. Used when the
// caller has nothing API-specific to add, and by API classifiers for the non-2xx cases. Transport
// errors that cannot heal (malformed URL, unsupported scheme, a body over the 64 MiB limit) are Fatal.
AttemptClass default_classify(const HttpAttempt& a);

// A Retry-After header value: delta-seconds, or an HTTP date (seconds from now, 0 if past);
// nullopt when it is neither.
std::optional<double> parse_retry_after(std::string_view value);

struct RetryPolicy {
  int retries = 3;             // extra attempts after the first
  double base_delay_s = 0.5;   // delay before retry i (1-based) drawn uniformly in [0, min(max, base*2^(i-1))]
  double max_delay_s = 30;
  std::uint64_t seed = 0;      // jitter stream (reproducible schedules in tests)
  // Upper bound on a server's Retry-After; the pool lowers it to its per-attempt timeout, so a hostile
  // "Retry-After: 99999999" cannot stall a run longer than --timeout per retry.
  double retry_after_cap_s = 1e9;
};
// The delay before retry number `retry` (1-based); a Retry-After value wins when present (capped at
// min(max_delay_s * 4, retry_after_cap_s) so a hostile header cannot stall a run indefinitely).
double retry_delay_s(const RetryPolicy& policy, int retry, std::optional<double> retry_after_s,
                     std::uint64_t jitter_bits);

// A request's final outcome after all attempts.
struct HttpOutcome {
  HttpRequest request;
  HttpAttempt last;            // the last attempt
  int attempts = 0;            // 1 + retries used
  AttemptClass cls = AttemptClass::Final;  // Final, Fatal, or Retryable = retries exhausted
  double seconds = 0;          // submit to outcome, backoff included
};

class HttpPool {
 public:
  HttpPool(HttpPoolOptions options, RetryPolicy retry, Classifier classify);
  ~HttpPool();  // aborts whatever is still running
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  void submit(HttpRequest request);  // queued; started when fewer than max_in_flight are running
  // Drives transfers for at most timeout_ms (returns early when something finished) and returns the
  // requests that reached their final outcome, in completion order.
  std::vector<HttpOutcome> poll(int timeout_ms);
  std::size_t pending() const;  // queued + running + waiting for a retry
  void cancel_all();            // drops queued and running requests (no outcome is returned for them)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One blocking exchange with a fresh easy handle (discovery, health checks, warm-up). Never throws
// for transport errors: they are in the returned attempt.
HttpAttempt http_once(const HttpPoolOptions& options, const std::string& method, const std::string& path,
                      const std::string& body, double timeout_s);

}  // namespace mxg::probe
