// Child-process plumbing for the matrix end-to-end tests (fork + execve, output into files so a
// chatty child can never block on a full pipe).
#include "harness/matrix/tests/mxguard_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <zlib.h>

extern char** environ;

namespace mxg::matrix::testing {

std::filesystem::path mxguard_binary() { return MXG_TEST_MXGUARD; }

namespace {

std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("GITHUB_STEP_SUMMARY=", 0) != 0) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

MxguardProcess::MxguardProcess(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                               const std::filesystem::path& log_dir, const std::vector<std::string>& extra_env) {
  static std::atomic<int> counter{0};
  // The test's pid in the name: CTest runs each test case as its own process, and several may share
  // a log folder (the system temp dir) at once.
  const std::string stem = "mxguard-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  out_path_ = log_dir / (stem + ".stdout");
  err_path_ = log_dir / (stem + ".stderr");

  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argv_strings{mxguard_binary().string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = child_environment(extra_env);
  std::vector<char*> argv = c_strings(argv_strings), envp = c_strings(env_strings);
  const std::string cwd_string = cwd.string(), out_string = out_path_.string(), err_string = err_path_.string();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_string.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_string.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
    if (::chdir(cwd_string.c_str()) != 0) ::_exit(126);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
}

MxguardProcess::~MxguardProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  // The captured output was handed out by wait(); leave no files behind in a shared folder.
  std::error_code ec;
  std::filesystem::remove(out_path_, ec);
  std::filesystem::remove(err_path_, ec);
}

void MxguardProcess::reap(int status) {
  reaped_ = true;
  status_ = status;
}

bool MxguardProcess::running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) reap(status);
  return !reaped_;
}

void MxguardProcess::send(int signal_number) {
  if (!reaped_) ::kill(pid_, signal_number);
}

ProcessOutcome MxguardProcess::wait() {
  if (!reaped_) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reap(status);
  }
  ProcessOutcome o;
  o.exited = WIFEXITED(status_);
  o.exit_code = o.exited ? WEXITSTATUS(status_) : -1;
  o.term_signal = WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
  o.out = read_text(out_path_);
  o.err = read_text(err_path_);
  return o;
}

ProcessOutcome run_mxguard(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                           const std::vector<std::string>& extra_env) {
  MxguardProcess child(args, cwd, cwd, extra_env);
  return child.wait();
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string read_gzip_text(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path.string());
  std::string text;
  char buffer[1 << 14];
  for (int n; (n = gzread(f, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  if (gzclose_r(f) != Z_OK) throw std::runtime_error("corrupt gzip file " + path.string());
  return text;
}

std::vector<std::string> complete_lines(const std::filesystem::path& path) {
  // A finished run compresses its results.jsonl into results.jsonl.gz: read that when the plain log is gone.
  std::string text;
  const std::filesystem::path gz = path.string() + ".gz";
  if (!std::filesystem::exists(path) && std::filesystem::exists(gz)) {
    text = read_gzip_text(gz);
  } else {
    text = read_text(path);
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

bool wait_for_lines(const std::filesystem::path& path, std::size_t lines, MxguardProcess& child,
                    std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (complete_lines(path).size() >= lines) return true;
    if (!child.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace mxg::matrix::testing
