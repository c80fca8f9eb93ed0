// Files of the matrix end-to-end tests: a scratch directory per test, small case files written by
// the tests themselves (cases/schema/case.schema.json format), and results.jsonl read back with a
// plain JSON parser (not the reports library the runner itself uses).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mxg::matrix::testing {

// A per-test directory under the GoogleTest temp dir, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// One small case: a 128 x 128 layer with 8 experts, top-2, at one TP size, every instance a
// fraction of a second on the host backend.
struct TinyCase {
  std::string name = "tiny";
  int tp = 1;
  std::vector<int> ranks = {0};
  std::vector<int> tokens = {4};
  std::vector<std::string> routing = {"uniform"};
  std::vector<std::string> inputs = {"normal"};
  // cases/default's calibrated tolerance; the BLIND tests replace it with an absurdly loose one.
  double nmse = 1e-4, max_rel = 0.45, cosine = 0.9999;
  // Dimension name -> values swept. Starts at the one combination that is right by construction
  // (de-interleaved rows, separated tiles and scales, flag on, separated gate mode, correct padding);
  // tests widen single dimensions from there.
  std::map<std::string, nlohmann::json> dimensions = {
      {"prep", nlohmann::json::array({"deinterleaved"})},
      {"weight_shuffle", nlohmann::json::array({"separated-tiles"})},
      {"scale_shuffle", nlohmann::json::array({"separated"})},
      {"is_shuffled", nlohmann::json::array({true})},
      {"gate_mode", nlohmann::json::array({"separated"})},
      {"padding", nlohmann::json::array({"correct"})}};

  // Sweeps `dimension` over `values` (a JSON array), every other dimension left as it is.
  TinyCase& sweep(const std::string& dimension, nlohmann::json values) {
    dimensions[dimension] = std::move(values);
    return *this;
  }

  TinyCase& loose() {
    nmse = 1e9;
    max_rel = 1e9;
    cosine = 1e-9;
    return *this;
  }
};

// Writes DIR/<name>.json and returns its path.
std::filesystem::path write_case(const std::filesystem::path& dir, const TinyCase& c);

// The id prefix of one instance: "<case>/small-tp<tp>-r<rank>/T=<T>/route=<routing>/in=<inputs>/seed=0",
// spelled out from the documented id format (mxguard matrix --help).
std::string instance_id(const TinyCase& c, int rank, int tokens, const std::string& routing,
                        const std::string& inputs = "normal");
// "/prep=../wshuf=../sshuf=../flag=0|1/gate=../pad=.." from the dimension values.
std::string combination_suffix(const std::string& prep, const std::string& weight_shuffle,
                               const std::string& scale_shuffle, bool is_shuffled, const std::string& gate_mode,
                               const std::string& padding = "correct");

struct ResultLine {
  std::string id, case_name, verdict, message;
  nlohmann::json json;
};
// Every complete line of a results.jsonl, parsed (a malformed line fails the test through an exception).
std::vector<ResultLine> read_results(const std::filesystem::path& results_jsonl);
// id -> verdict; duplicates are kept out of the map, so callers check for them separately.
std::map<std::string, std::string> verdicts_by_id(const std::vector<ResultLine>& results);

}  // namespace mxg::matrix::testing
