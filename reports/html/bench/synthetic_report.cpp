// Writes a synthetic report.json with the geometry of a real matrix (for the page-size and memory
// measurement of `mxguard report` on the nightly tier, README "HTML report"): the instances come from
// `mxguard matrix --cases cases/nightly --list`, each run under the 288 layout combinations (144 where
// the list says so), with verdicts from a stand-in consistency rule and planted FAIL, BLIND and ERROR
// groups. Results are written one at a time, so a 1.4 M-result file needs no more memory than one.
//
//   mxguard matrix --cases cases/nightly --list > instances.txt
//   html_synthetic_report instances.txt OUT_DIR     # writes OUT_DIR/report.json
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "reports/json_io.hpp"
#include "reports/result.hpp"

namespace {

using namespace mxg::report;

struct Instance {
  std::string id, case_name, shape, routing, inputs;
  std::int64_t tokens = 0;
  std::uint64_t seed = 0;
  int combinations = 288;
};

const std::vector<std::string> kPreps = {"interleaved", "deinterleaved", "deinterleaved-bias-interleaved",
                                         "deinterleaved-scales-interleaved"};
const std::vector<std::string> kWeightShuffles = {"none", "separated-tiles", "interleaved-tiles"};
const std::vector<std::string> kScaleShuffles = {"none", "separated", "interleaved"};
const std::vector<std::string> kGates = {"separated", "interleave"};
const std::vector<std::string> kPads = {"correct", "from-i-over-tp"};

std::vector<Instance> read_instances(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const std::regex line_re(R"(^(([^/]+)/([^/]+)/T=(\d+)/route=([^/]+)/in=([^/]+)/seed=(\d+))\s+\((\d+) combinations\))");
  std::vector<Instance> out;
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_search(line, m, line_re)) continue;
    out.push_back(Instance{m[1], m[2], m[3], m[5], m[6], std::stoll(m[4]), std::stoull(m[7]), std::stoi(m[8])});
  }
  if (out.empty()) throw std::runtime_error(path + ": no instance lines (expected `mxguard matrix --list` output)");
  return out;
}

// A deterministic pseudo-random number in [0, 1) from a counter (SplitMix64).
double uniform(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) / 9007199254740992.0;
}

template <class F>
void for_each_result(const std::vector<Instance>& instances, F&& emit) {
  std::uint64_t counter = 0;
  for (const Instance& inst : instances) {
    const std::size_t preps = inst.combinations == 288 ? 4 : 2;  // 144-combination cases fix two preparations
    const bool tp8 = inst.shape.find("-tp8-") != std::string::npos;
    for (std::size_t p = 0; p < preps; ++p)
      for (const auto& w : kWeightShuffles)
        for (const auto& s : kScaleShuffles)
          for (int flag = 1; flag >= 0; --flag)
            for (const auto& g : kGates)
              for (const auto& pad : kPads) {
                ++counter;
                CombinationResult r;
                r.case_name = inst.case_name;
                r.shape = inst.shape;
                r.tokens = inst.tokens;
                r.seed = inst.seed;
                r.dims = {{"prep", kPreps[p]}, {"weight_shuffle", w}, {"scale_shuffle", s},
                          {"is_shuffled", flag ? "true" : "false"}, {"gate_mode", g}, {"padding", pad},
                          {"routing", inst.routing}, {"inputs", inst.inputs}};
                r.id = fmt::format("{}/prep={}/wshuf={}/sshuf={}/flag={}/gate={}/pad={}", inst.id, kPreps[p], w, s,
                                   flag, g, pad);
                // Stand-in consistency rule (not the real derivation): about 2% of combinations read back.
                const bool consistent = p == 1 && pad == "correct" && (w == "none") == (flag == 0) &&
                                        (w == "none") == (s == "none") && (w == "interleaved-tiles") == (g == "interleave");
                r.expected_consistent = consistent;
                r.tolerance = {1e-4, 0.45, 0.9999};
                r.backend = "hip";
                r.kernel = "fused-moe gemv-mma v3";
                r.device = "AMD Instinct MI355X (gfx950)";
                r.seconds = 0.02 + 0.05 * uniform(counter * 7);
                const double u = uniform(counter);
                if (consistent) {
                  const bool fail = tp8 && g == "interleave" && inst.tokens >= 512;  // planted regression
                  r.verdict = fail ? Verdict::Fail : Verdict::Pass;
                  r.metrics = {fail ? 0.02 + u : 1e-7 * (1 + 30 * u), fail ? 3.0 : 0.01 + 0.1 * u, fail ? 0.9 : 0.999999, 0, 0};
                } else {
                  const bool blind = p == 3 && s == "interleaved" && inst.tokens == 1 && flag == 1;  // planted blind spot
                  r.verdict = blind ? Verdict::Blind : Verdict::Caught;
                  const bool nan = u < 0.8;
                  r.metrics = {blind ? 2e-6 : nan ? NAN : 0.05 + u, nan && !blind ? NAN : 2.0, nan && !blind ? NAN : 0.95,
                               nan && !blind ? 11520 : 0, 0};
                  r.derivation = fmt::format("kernel reads {} tiles as {} with is_shuffled={}: row 16 of expert 0 comes "
                                             "from row {}", w, g, flag, 16 + 16 * p);
                }
                if (uniform(counter * 13) < 2e-5) {  // rare infrastructure errors
                  r.verdict = Verdict::Error;
                  r.message = "external backend: kernel command exited 139 (SIGSEGV) after 3.1 s";
                } else {
                  r.message = fmt::format("nmse {:.3g} (tol 0.0001), max_rel {:.3g} (tol 0.45), cosine {:.6f} (tol 0.999900)",
                                          r.metrics.nmse, r.metrics.max_rel, r.metrics.cosine);
                }
                if (r.verdict != Verdict::Pass) {
                  r.hotspots = {{static_cast<std::int64_t>(counter % 32), 3, 0.41}, {5, 7, 0.2}, {5, 8, 0.1}};
                }
                emit(r);
              }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: html_synthetic_report INSTANCES.txt OUT_DIR\n";
    return 2;
  }
  try {
    const auto instances = read_instances(argv[1]);
    TotalsAccumulator totals;
    std::int64_t n = 0;
    for_each_result(instances, [&](const CombinationResult& r) {
      totals.add(r);
      ++n;
    });
    std::filesystem::create_directories(argv[2]);
    const std::filesystem::path path = std::filesystem::path(argv[2]) / "report.json";
    std::FILE* out = std::fopen(path.c_str(), "w");
    if (!out) throw std::runtime_error(path.string() + ": cannot write");
    Json head = Json::object();
    head["schema"] = std::string(kReportSchema);
    head["tool_version"] = "0.1.0";
    head["started_at"] = "2026-12-07T01:00:00Z";
    head["finished_at"] = "2026-12-07T04:30:00Z";
    head["backend"] = "hip";
    head["case_files"] = {"cases/nightly"};
    head["interrupted"] = false;
    head["wall_seconds"] = 12600.0;
    head["totals"] = totals.totals();
    std::string text = dump_json(head);
    text.pop_back();  // reopen the object for "results"
    std::fputs(text.c_str(), out);
    std::fputs(",\"results\":[", out);
    bool first = true;
    for_each_result(instances, [&](const CombinationResult& r) {
      if (!first) std::fputc(',', out);
      first = false;
      std::fputs(dump_json(Json(r)).c_str(), out);
      std::fputc('\n', out);
    });
    std::fputs("],\"mutants\":[]}\n", out);
    std::fclose(out);
    std::cout << fmt::format("{}: {} results from {} instances\n", path.string(), n, instances.size());
  } catch (const std::exception& e) {
    std::cerr << "html_synthetic_report: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
