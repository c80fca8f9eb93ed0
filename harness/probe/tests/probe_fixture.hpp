// Shared setup of the probe's end-to-end tests: a generated GSM8K file, an in-process stand-in
// server, and a probe configuration pointing at it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness/probe/gsm8k.hpp"
#include "harness/probe/probe_config.hpp"
#include "harness/standin/standin_server.hpp"

namespace mxg::probe::testing {

// A fresh folder under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// generate_gsm8k(n, seed) written to `dir`/data.jsonl.
struct GeneratedData {
  std::vector<Gsm8kItem> items;
  std::filesystem::path file;
};
GeneratedData write_generated_data(const std::filesystem::path& dir, std::size_t n, std::uint64_t seed);

// A started stand-in on an ephemeral port.
std::unique_ptr<standin::StandinServer> start_standin(const standin::StandinOptions& options,
                                                      const std::vector<Gsm8kItem>& items);

// A probe configuration for `base_url` with quick retries and no progress lines.
ProbeConfig quick_config(const std::string& base_url, const std::filesystem::path& data,
                         const std::filesystem::path& out_dir);

// The stand-in's ground truth: how many of the first `n` items it answers correctly.
std::int64_t expected_correct(const std::vector<Gsm8kItem>& items, std::int64_t n, std::uint64_t seed, double accuracy);

}  // namespace mxg::probe::testing
