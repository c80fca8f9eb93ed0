// The messages of the external protocol v2 (EXTERNAL_PROTOCOL.md, "Version 2: a persistent
// worker"): one JSON object per line on the worker's stdin and stdout. Formatting and strict
// parsing live here, shared by mxguard's side (WorkerBackend) and its own worker
// (`mxguard kernel worker`).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace mxg::worker {

inline constexpr std::string_view kProtocol = "mxguard-worker/2";
// The version number a worker finds in its environment as MXGUARD_WORKER_PROTOCOL.
inline constexpr std::string_view kProtocolVersion = "2";
inline constexpr std::string_view kProtocolEnv = "MXGUARD_WORKER_PROTOCOL";
// Every message is far smaller (paths, names, one error message); a longer line is a broken worker.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;
// Objects and arrays nest at most this deep in any message (the deepest legal one has depth 2).
inline constexpr int kMaxDepth = 8;

// The worker's first line: who it is, once it is ready for requests.
struct Hello {
  std::string kernel;          // required, non-empty
  std::string kernel_version;  // may be empty
  std::string device;          // may be empty
  std::map<std::string, std::string> versions;  // library -> version (torch, aiter, rocm, ...)
};

// One combination to run.
struct Request {
  std::string id;       // the matrix result id (or the file name for `kernel run`)
  std::string problem;  // absolute path of the problem file
  std::string output;   // absolute path the worker writes y to
};

struct Response {
  std::string id;
  bool ok = false;
  std::string message;  // why, when !ok
  bool fatal = false;   // !ok and the worker exits after this line (mxguard starts a fresh one)
};

// Single-line JSON (no '\n' inside), without the terminating newline.
std::string format_hello(const Hello& h);
std::string format_request(const Request& r);
std::string format_response(const Response& r);

// Strict parsers: InputError naming the field and the value ("hello: field 'kernel': ...") for
// anything that is not exactly such a message (wrong type, unknown protocol, nesting past kMaxDepth,
// a line past kMaxLineBytes). Unknown extra fields are ignored, so later additions stay readable.
Hello parse_hello(std::string_view line);
Request parse_request(std::string_view line);
Response parse_response(std::string_view line);

}  // namespace mxg::worker
