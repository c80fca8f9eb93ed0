// fetch-data: libcurl download into a temporary sibling, SHA-256 (OpenSSL EVP) while writing, rename
// into the cache only on a matching hash; a verified cached copy is reused without network access.
#include "harness/probe/fetch_data.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"
#include "kernels/common/seconds.hpp"

namespace mxg::probe {
namespace {

struct DigestCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using DigestCtx = std::unique_ptr<EVP_MD_CTX, DigestCtxFree>;

// Incremental SHA-256; failures of the library itself are infrastructure errors.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      throw InfraError("sha256: OpenSSL EVP digest initialisation failed");
    }
  }
  void update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw InfraError("sha256: OpenSSL EVP digest update failed");
  }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) != 1) {
      throw InfraError("sha256: OpenSSL EVP digest finalisation failed");
    }
    std::string out;
    for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }

 private:
  DigestCtx ctx_;
};

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The file name a URL ends in, without query or fragment ("test.jsonl"); "download" if it has none.
std::string url_basename(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const std::size_t slash = url.rfind('/');
  std::string name(slash == std::string_view::npos ? url : url.substr(slash + 1));
  if (name.empty() || name == "." || name == "..") name = "download";
  return name;
}

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw InfraError("libcurl: curl_global_init failed");
  });
}

// Removes the temporary download unless it was renamed into place.
struct TempFile {
  std::filesystem::path path;
  ~TempFile() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove(path, ignored);
  }
};

struct Sink {
  std::FILE* file = nullptr;
  Sha256* hash = nullptr;
  bool write_failed = false;
  // Enforced here as well as by libcurl: its timeout and size limits do not apply to file:// URLs.
  std::uint64_t received = 0, max_bytes = 0;
  std::chrono::steady_clock::time_point deadline;
  bool too_large = false, timed_out = false;
};

std::size_t write_to_sink(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t bytes = size * count;
  sink->received += bytes;
  if (sink->received > sink->max_bytes) {
    sink->too_large = true;
    return 0;
  }
  if (std::chrono::steady_clock::now() > sink->deadline) {
    sink->timed_out = true;
    return 0;
  }
  if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
    sink->write_failed = true;
    return 0;  // libcurl aborts the transfer with CURLE_WRITE_ERROR
  }
  try {
    sink->hash->update(data, bytes);
  } catch (const InfraError&) {
    sink->write_failed = true;
    return 0;  // no exception may cross libcurl's C frames
  }
  return bytes;
}

struct CurlFree {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

struct Attempt {
  bool ok = false;
  bool retryable = false;
  std::string error;  // curl error or HTTP status, for the message
  std::string sha256;
};

// One transfer of `url` into `path` (truncated first), hashed on the way.
Attempt download_once(const FetchOptions& options, const std::filesystem::path& path) {
  Attempt attempt;
  // libcurl would block opening a FIFO named by a file:// URL and read a device without end.
  constexpr std::string_view kFileScheme = "file://";
  if (std::string_view(options.url).substr(0, kFileScheme.size()) == kFileScheme) {
    std::string local = options.url.substr(kFileScheme.size());
    if (local.rfind("localhost/", 0) == 0) local.erase(0, std::string_view("localhost").size());
    struct stat st {};
    if (::stat(local.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {  // a missing file is curl's error (infra)
      throw InputError(fmt::format("--url {}: not a regular file", options.url));
    }
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) {
    throw InfraError(fmt::format("{}: cannot write the download ({})", path.string(), std::strerror(errno)));
  }
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) throw InfraError("libcurl: curl_easy_init failed");
  Sha256 hash;
  Sink sink{file.get(), &hash};
  sink.max_bytes = options.max_bytes;
  sink.deadline = std::chrono::steady_clock::now() + seconds_to_duration(options.timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, options.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85 replaced the protocol bitmasks by these lists
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: other threads are running
  // Capped at a day: a huge timeout_s must not overflow the conversion to long.
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::min(options.timeout_s, 86400.0) * 1000));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_to_sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer.data());
  const CURLcode code = curl_easy_perform(c);
  if (sink.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    throw InputError(fmt::format("{}: the download exceeds the {}-byte limit of a data set", options.url,
                                 options.max_bytes));
  }
  if (sink.timed_out) {
    attempt.error = fmt::format("not finished within --timeout {} s", options.timeout_s);
    attempt.retryable = true;
    return attempt;
  }
  if (std::fflush(file.get()) != 0) sink.write_failed = true;
  if (sink.write_failed) {
    throw InfraError(fmt::format("{}: writing the download failed ({})", path.string(), std::strerror(errno)));
  }
  if (code != CURLE_OK) {
    attempt.error = fmt::format("curl error {}: {}", static_cast<int>(code),
                                error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(code));
    // Worth another try: the network or the server may recover. Not: a bad URL, an unsupported
    // scheme, a missing local file, a refused TLS certificate.
    switch (code) {
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_CONNECT:
      case CURLE_PARTIAL_FILE:
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
      case CURLE_SSL_CONNECT_ERROR:
        attempt.retryable = true;
        break;
      default:
        break;
    }
    return attempt;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) {  // file:// reports 0
    attempt.error = fmt::format("HTTP status {}", status);
    attempt.retryable = status >= 500 || status == 429;
    return attempt;
  }
  attempt.ok = true;
  attempt.sha256 = hash.hex();
  return attempt;
}

void say(const std::function<void(std::string_view)>& log, const std::string& message) {
  if (log) log(message);
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.hex();
}

std::string sha256_hex_file(const std::filesystem::path& path) {
  ::close(open_regular_file(path, path.string()));  // a FIFO or device is refused, not awaited
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open for hashing ({})", path.string(), std::strerror(errno)));
  Sha256 hash;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw InputError(fmt::format("{}: read failed while hashing", path.string()));
  return hash.hex();
}

std::filesystem::path fetch_dataset(const FetchOptions& options, const std::function<void(std::string_view)>& log) {
  std::string expected = options.sha256;
  for (char& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!expected.empty() && !is_sha256_hex(expected)) {
    throw InputError(fmt::format("sha256: not 64 hexadecimal digits ({})", options.sha256));
  }
  if (options.url.empty()) throw InputError("url: empty");
  if (options.cache_dir.empty()) throw InputError("cache_dir: empty");
  if (options.retries < 0) throw InputError(fmt::format("retries: negative ({})", options.retries));
  if (!(options.timeout_s > 0)) throw InputError(fmt::format("timeout_s: not positive ({})", options.timeout_s));

  std::error_code ec;
  std::filesystem::create_directories(options.cache_dir, ec);
  if (ec) throw InputError(fmt::format("{}: cache_dir: cannot create ({})", options.cache_dir.string(), ec.message()));

  // Keyed by content when the hash is known, so two URLs of the same file share one entry.
  const std::string key = expected.empty() ? sha256_hex(options.url).substr(0, 16) : expected;
  const std::filesystem::path target = options.cache_dir / (key + "-" + url_basename(options.url));

  if (std::filesystem::exists(target, ec)) {
    if (expected.empty()) {
      say(log, fmt::format("warning: using cached {} without verification (no sha256 given)", target.string()));
      return target;
    }
    const std::string actual = sha256_hex_file(target);
    if (actual == expected) {
      say(log, fmt::format("using cached {} (sha256 verified)", target.string()));
      return target;
    }
    say(log, fmt::format("cached {} has sha256 {}, expected {}: downloading again", target.string(), actual, expected));
    std::filesystem::remove(target, ec);
  }

  ensure_curl_initialised();
  TempFile temp{target.string() + fmt::format(".part-{}", static_cast<long>(::getpid()))};
  Attempt attempt;
  for (int tries = 0;; ++tries) {
    say(log, fmt::format("downloading {}", options.url));
    attempt = download_once(options, temp.path);
    if (attempt.ok || !attempt.retryable || tries >= options.retries) break;
    const auto backoff = std::chrono::seconds(1) * (1 << std::min(tries, 5));
    say(log, fmt::format("{}: {}; retrying in {} s", options.url, attempt.error, backoff.count()));
    std::this_thread::sleep_for(backoff);
  }
  if (!attempt.ok) throw InfraError(fmt::format("{}: download failed: {}", options.url, attempt.error));

  if (expected.empty()) {
    say(log, fmt::format("warning: {} not verified (no sha256 given); its sha256 is {}", options.url, attempt.sha256));
  } else if (attempt.sha256 != expected) {
    throw InputError(fmt::format("{}: sha256 mismatch: expected {}, got {}", options.url, expected, attempt.sha256));
  }
  std::filesystem::rename(temp.path, target, ec);
  if (ec) throw InfraError(fmt::format("{}: cannot move the download into the cache ({})", target.string(), ec.message()));
  temp.path.clear();
  say(log, fmt::format("cached {}", target.string()));
  return target;
}

}  // namespace mxg::probe
