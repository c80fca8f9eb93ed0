// Shared setup of the probe's end-to-end tests (probe_fixture.hpp).
#include "harness/probe/tests/probe_fixture.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>

#include <fmt/format.h>

#include "harness/probe/gsm8k_synth.hpp"

namespace mxg::probe::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() / fmt::format("mxg-probe-test-{}-{}", ::getpid(), counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

GeneratedData write_generated_data(const std::filesystem::path& dir, std::size_t n, std::uint64_t seed) {
  GeneratedData d;
  d.items = generate_gsm8k(n, seed);
  d.file = dir / "data.jsonl";
  std::ofstream(d.file, std::ios::binary) << to_gsm8k_jsonl(d.items);
  return d;
}

std::unique_ptr<standin::StandinServer> start_standin(const standin::StandinOptions& options,
                                                      const std::vector<Gsm8kItem>& items) {
  standin::StandinOptions o = options;
  o.port = 0;
  if (o.threads > 64) o.threads = 64;  // tests run at most 16 in flight; fewer threads start faster
  auto server = std::make_unique<standin::StandinServer>(o, items);
  server->start();
  return server;
}

ProbeConfig quick_config(const std::string& base_url, const std::filesystem::path& data,
                         const std::filesystem::path& out_dir) {
  ProbeConfig c;
  c.http.base_url = base_url;
  c.http.max_in_flight = 16;
  c.http.timeout_s = 5;
  c.retry.retries = 3;
  c.retry.base_delay_s = 0.01;
  c.retry.max_delay_s = 0.05;
  c.data = data;
  c.num_shots = 5;
  c.num_questions = 100;
  c.out_dir = out_dir;
  c.progress_interval_s = 1e9;
  return c;
}

std::int64_t expected_correct(const std::vector<Gsm8kItem>& items, std::int64_t n, std::uint64_t seed, double accuracy) {
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    k += standin::answers_correctly(seed, accuracy, items[static_cast<std::size_t>(i)].question) ? 1 : 0;
  }
  return k;
}

}  // namespace mxg::probe::testing
