// HttpPool over one libcurl multi handle: a FIFO queue in front of at most max_in_flight reusable
// easy handles, retries scheduled on a min-heap by due time (full-jitter backoff or Retry-After).
#include "harness/probe/http_pool.hpp"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/seconds.hpp"
#include "kernels/common/splitmix64.hpp"

namespace mxg::probe {
namespace {

using Clock = std::chrono::steady_clock;

// A response larger than this is not a generation; refusing it keeps a broken server from
// exhausting memory (the transfer fails with CURLE_WRITE_ERROR).
constexpr std::size_t kMaxBodyBytes = std::size_t{64} << 20;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// curl_global_init is not safe to race with other curl calls; a function-local static runs it once.
void ensure_curl_initialised() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) throw InfraError(fmt::format("libcurl: curl_global_init failed: {}", curl_easy_strerror(rc)));
}

std::string trim_base_url(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

void build_url(std::string& out, const std::string& base, const std::string& path) {
  out.assign(base);
  if (path.empty() || path.front() != '/') out.push_back('/');
  out.append(path);
}

long to_curl_ms(double seconds) {
  // 0 means "no limit" to curl; a positive sub-millisecond limit must not become unlimited.
  if (!(seconds > 0)) return 0;
  return std::max(1L, static_cast<long>(std::llround(std::min(seconds, 1e9) * 1000.0)));
}

struct HeaderListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using HeaderList = std::unique_ptr<curl_slist, HeaderListDeleter>;

HeaderList make_headers(const HttpPoolOptions& o) {
  curl_slist* l = nullptr;
  auto append = [&l](const std::string& h) {
    curl_slist* next = curl_slist_append(l, h.c_str());
    if (next == nullptr) {
      curl_slist_free_all(l);
      throw InfraError("libcurl: out of memory building request headers");
    }
    l = next;
  };
  append("Content-Type: application/json");
  append("Accept: application/json");
  append("Expect:");  // no 100-continue round trip before a POST body
  if (o.bearer_token) append("Authorization: Bearer " + *o.bearer_token);
  return HeaderList(l);
}

// Per-attempt receive state, written by curl's callbacks.
struct Exchange {
  std::string body;
  std::optional<double> retry_after_s;
  char errbuf[CURL_ERROR_SIZE] = {};

  void reset() {
    body.clear();
    retry_after_s.reset();
    errbuf[0] = '\0';
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t len = size * n;
  if (ex->body.size() + len > kMaxBodyBytes) return 0;
  ex->body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t len = size * n;
  const std::string_view line(data, len);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.starts_with("HTTP/")) {
    ex->retry_after_s.reset();  // a new response (after 100 Continue or a redirect) starts clean
  } else if (len > kRetryAfter.size() && strncasecmp(data, kRetryAfter.data(), kRetryAfter.size()) == 0) {
    ex->retry_after_s = parse_retry_after(line.substr(kRetryAfter.size()));
  }
  return len;
}

// Progress callback: a non-zero return aborts the transfer (HttpPoolOptions::cancel).
int on_progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

// Options that stay the same for every request an easy handle makes.
void set_fixed_options(CURL* e, const HttpPoolOptions& o, curl_slist* headers, Exchange* ex, double timeout_s) {
  if (o.cancel != nullptr) {
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(o.cancel));
  }
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: we may be in any thread
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);  // long generations: notice a vanished peer
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, ex);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, ex);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ex->errbuf);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_curl_ms(timeout_s));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_curl_ms(o.connect_timeout_s));
}

void check_method(const std::string& method) {
  if (method != "GET" && method != "POST")
    throw std::invalid_argument(fmt::format("HttpPool: method '{}' is not GET or POST", method));
}

// Per-request options; `body` must outlive the transfer (curl does not copy POSTFIELDS).
void set_request_options(CURL* e, const std::string& url, const std::string& method, const std::string& body) {
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  if (method == "POST") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
}

std::string transport_message(CURLcode rc, const Exchange& ex) {
  return ex.errbuf[0] != '\0' ? std::string(ex.errbuf) : std::string(curl_easy_strerror(rc));
}

// Fills an attempt from a finished transfer; moves the body out of the exchange.
HttpAttempt finish_attempt(CURL* e, CURLcode rc, Exchange& ex, double seconds) {
  HttpAttempt a;
  a.curl_code = static_cast<int>(rc);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a.status);
  } else {
    a.transport_error = transport_message(rc, ex);
  }
  a.body = std::move(ex.body);
  ex.body = std::string();
  a.retry_after_s = ex.retry_after_s;
  a.seconds = seconds;
  return a;
}

bool is_permanent_transport_error(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_WRITE_ERROR:  // the body exceeded kMaxBodyBytes; it will again
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view value) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = value.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return std::nullopt;
  value = value.substr(first, value.find_last_not_of(kSpace) - first + 1);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    double s = 0;
    for (char c : value) s = s * 10 + (c - '0');  // doubles do not overflow on a long digit string
    return s;
  }
  const std::string date(value);
  const time_t when = curl_getdate(date.c_str(), nullptr);
  if (when == static_cast<time_t>(-1)) return std::nullopt;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

AttemptClass default_classify(const HttpAttempt& a) {
  if (a.curl_code != 0) return is_permanent_transport_error(a.curl_code) ? AttemptClass::Fatal : AttemptClass::Retryable;
  if (a.status >= 200 && a.status < 300) return AttemptClass::Final;
  if (a.status == 429 || a.status == 502 || a.status == 503 || a.status == 504) return AttemptClass::Retryable;
  return AttemptClass::Fatal;
}

double retry_delay_s(const RetryPolicy& policy, int retry, std::optional<double> retry_after_s,
                     std::uint64_t jitter_bits) {
  const double max_delay = std::max(0.0, policy.max_delay_s);
  if (retry_after_s) return std::clamp(*retry_after_s, 0.0, std::max(0.0, std::min(max_delay * 4, policy.retry_after_cap_s)));
  const int exponent = std::clamp(retry, 1, 1024) - 1;
  const double cap = std::min(max_delay, std::ldexp(std::max(0.0, policy.base_delay_s), exponent));
  const double unit = static_cast<double>(jitter_bits >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return unit * cap;
}

// ---------------------------------------------------------------------------------------------
struct HttpPool::Impl {
  struct Job {
    HttpRequest request;
    int attempts = 0;  // completed attempts
    Clock::time_point submitted;
  };
  // An easy handle with its receive state; reused across requests (its connection stays in the
  // multi handle's cache, so keep-alive reuse does not depend on which slot takes the next job).
  struct Slot {
    CURL* easy = nullptr;
    Exchange exchange;
    Job job;
    Clock::time_point started;
    bool busy = false;
  };
  struct Waiting {
    Clock::time_point due;
    Job job;
  };
  static bool later(const Waiting& a, const Waiting& b) { return a.due > b.due; }

  HttpPoolOptions options;
  RetryPolicy retry;
  Classifier classify;
  std::string base;
  HeaderList headers;
  CURLM* multi = nullptr;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<Slot*> free_slots;
  std::size_t running = 0;
  std::deque<Job> queue;
  std::vector<Waiting> waiting;  // min-heap on due
  SplitMix64 jitter;
  std::string url;  // scratch (curl copies CURLOPT_URL)

  Impl(HttpPoolOptions o, RetryPolicy r, Classifier c)
      : options(std::move(o)), retry(r), classify(std::move(c)), base(trim_base_url(options.base_url)),
        headers(make_headers(options)), jitter{r.seed} {
    options.max_in_flight = std::max<std::size_t>(1, options.max_in_flight);
    retry.retry_after_cap_s = std::min(retry.retry_after_cap_s, options.timeout_s);  // H7: never wait past --timeout
    multi = curl_multi_init();
    if (multi == nullptr) throw InfraError("libcurl: curl_multi_init failed");
    const long n = static_cast<long>(options.max_in_flight);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, n);  // keep every idle connection for reuse
    slots.reserve(options.max_in_flight);
    free_slots.reserve(options.max_in_flight);
  }

  ~Impl() {
    drop_all();
    for (auto& s : slots) curl_easy_cleanup(s->easy);
    curl_multi_cleanup(multi);
  }

  Slot* acquire_slot() {
    if (!free_slots.empty()) {
      Slot* s = free_slots.back();
      free_slots.pop_back();
      return s;
    }
    auto s = std::make_unique<Slot>();
    s->easy = curl_easy_init();
    if (s->easy == nullptr) throw InfraError("libcurl: curl_easy_init failed");
    set_fixed_options(s->easy, options, headers.get(), &s->exchange, options.timeout_s);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s.get());
    slots.push_back(std::move(s));
    return slots.back().get();
  }

  void release_slot(Slot* s) {
    s->busy = false;
    s->job = Job{};
    free_slots.push_back(s);
  }

  void drop_all() {
    for (auto& s : slots) {
      if (!s->busy) continue;
      curl_multi_remove_handle(multi, s->easy);
      release_slot(s.get());
    }
    running = 0;
    queue.clear();
    waiting.clear();
  }

  // Due retries go to the front of the queue (earliest first): they were submitted before anything
  // still queued.
  void release_due_retries(Clock::time_point now) {
    std::vector<Job> due;
    while (!waiting.empty() && waiting.front().due <= now) {
      std::pop_heap(waiting.begin(), waiting.end(), later);
      due.push_back(std::move(waiting.back().job));
      waiting.pop_back();
    }
    for (auto it = due.rbegin(); it != due.rend(); ++it) queue.push_front(std::move(*it));
  }

  void start_queued(std::vector<HttpOutcome>& out) {
    while (running < options.max_in_flight && !queue.empty()) {
      Slot* s = acquire_slot();
      s->job = std::move(queue.front());
      queue.pop_front();
      s->exchange.reset();
      build_url(url, base, s->job.request.path);
      set_request_options(s->easy, url, s->job.request.method, s->job.request.body);
      s->started = Clock::now();
      const CURLMcode mc = curl_multi_add_handle(multi, s->easy);
      if (mc != CURLM_OK) {
        HttpAttempt a;
        a.curl_code = CURLE_FAILED_INIT;
        a.transport_error = fmt::format("curl_multi_add_handle: {}", curl_multi_strerror(mc));
        Job job = std::move(s->job);
        release_slot(s);
        conclude(std::move(job), std::move(a), out);
        continue;
      }
      s->busy = true;
      ++running;
    }
  }

  void harvest(std::vector<HttpOutcome>& out) {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* easy = m->easy_handle;
      const CURLcode rc = m->data.result;  // read before removal invalidates the message
      Slot* s = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &s);
      curl_multi_remove_handle(multi, easy);
      --running;
      HttpAttempt a = finish_attempt(easy, rc, s->exchange, seconds_between(s->started, Clock::now()));
      Job job = std::move(s->job);
      release_slot(s);
      conclude(std::move(job), std::move(a), out);
    }
  }

  // One attempt is over: hand out the outcome or schedule the next attempt.
  void conclude(Job job, HttpAttempt a, std::vector<HttpOutcome>& out) {
    ++job.attempts;
    const AttemptClass cls = classify ? classify(job.request, a) : default_classify(a);
    const Clock::time_point now = Clock::now();
    if (cls == AttemptClass::Retryable && job.attempts <= retry.retries) {
      const double delay = retry_delay_s(retry, job.attempts, a.retry_after_s, jitter.next());
      const auto due = now + seconds_to_duration(delay);
      waiting.push_back(Waiting{due, std::move(job)});
      std::push_heap(waiting.begin(), waiting.end(), later);
      return;
    }
    HttpOutcome o;
    o.seconds = seconds_between(job.submitted, now);
    o.attempts = job.attempts;
    o.cls = cls;
    o.request = std::move(job.request);
    o.last = std::move(a);
    out.push_back(std::move(o));
  }

  std::size_t pending() const { return queue.size() + running + waiting.size(); }

  std::vector<HttpOutcome> poll(int timeout_ms) {
    std::vector<HttpOutcome> out;
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
    while (pending() > 0) {
      release_due_retries(Clock::now());
      start_queued(out);
      int still_running = 0;
      const CURLMcode pc = curl_multi_perform(multi, &still_running);
      if (pc != CURLM_OK) throw InfraError(fmt::format("libcurl: curl_multi_perform: {}", curl_multi_strerror(pc)));
      harvest(out);
      if (!out.empty()) break;
      const Clock::time_point now = Clock::now();
      if (now >= deadline) break;
      // Sleep until a socket is ready, curl's own timer fires (curl_multi_poll caps the wait with
      // it), the next retry is due, or the caller's deadline.
      Clock::time_point wake = deadline;
      if (!waiting.empty()) wake = std::min(wake, waiting.front().due);
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
      if (wait > 0) {
        const CURLMcode wc = curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
        if (wc != CURLM_OK) throw InfraError(fmt::format("libcurl: curl_multi_poll: {}", curl_multi_strerror(wc)));
      }
    }
    // Slots freed by this round's outcomes start the next queued requests now, not at the next poll.
    release_due_retries(Clock::now());
    start_queued(out);
    return out;
  }
};

HttpPool::HttpPool(HttpPoolOptions options, RetryPolicy retry, Classifier classify) {
  ensure_curl_initialised();
  impl_ = std::make_unique<Impl>(std::move(options), retry, std::move(classify));
}

HttpPool::~HttpPool() = default;

void HttpPool::submit(HttpRequest request) {
  check_method(request.method);
  impl_->queue.push_back(Impl::Job{std::move(request), 0, Clock::now()});
}

std::vector<HttpOutcome> HttpPool::poll(int timeout_ms) { return impl_->poll(timeout_ms); }

std::size_t HttpPool::pending() const { return impl_->pending(); }

void HttpPool::cancel_all() { impl_->drop_all(); }

HttpAttempt http_once(const HttpPoolOptions& options, const std::string& method, const std::string& path,
                      const std::string& body, double timeout_s) {
  ensure_curl_initialised();
  check_method(method);
  const HeaderList headers = make_headers(options);  // before the handle: it may throw
  HttpAttempt a;
  CURL* e = curl_easy_init();
  if (e == nullptr) {
    a.curl_code = CURLE_FAILED_INIT;
    a.transport_error = "curl_easy_init failed";
    return a;
  }
  Exchange ex;
  set_fixed_options(e, options, headers.get(), &ex, timeout_s);
  std::string url;
  build_url(url, trim_base_url(options.base_url), path);
  set_request_options(e, url, method, body);
  const Clock::time_point start = Clock::now();
  const CURLcode rc = curl_easy_perform(e);
  a = finish_attempt(e, rc, ex, seconds_between(start, Clock::now()));
  curl_easy_cleanup(e);
  return a;
}

}  // namespace mxg::probe
