// Memory estimate of a case instance (memory_estimate.hpp).
#include "harness/matrix/memory_estimate.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::matrix {

namespace {

// MXFP4: half a byte per weight plus one E8M0 scale byte per 32 weights.
constexpr double kBytesPerWeight = 0.5 + 1.0 / 32;

}  // namespace

double estimate_instance_bytes(const ShapeSpec& s, std::int64_t tokens, int jobs) {
  const double T = static_cast<double>(tokens), H = static_cast<double>(s.hidden);
  const double I = static_cast<double>(s.intermediate), k = static_cast<double>(s.topk);
  const double tp = static_cast<double>(std::max(1, s.tp));
  // Only routed experts are materialised (plus up to two empty ones), canonical_inputs.hpp.
  const double experts = std::min(static_cast<double>(s.experts), T * k + 2);
  const double weights = experts * 3 * I * H * kBytesPerWeight;  // gate_up [2I, H] + down [H, I]
  const double rank_weights = experts * 3 * (I / tp) * H * kBytesPerWeight;
  const double activations = T * H * 4 * 4 + T * k * 2 * (I / tp) * 4;
  return weights + std::max(1, jobs) * rank_weights + activations;
}

double default_memory_limit_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string key;
    double kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
}

std::string format_bytes(double bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", bytes, kUnits[u]);
}

void check_memory(const std::vector<Instance>& instances, int jobs, double limit_bytes, bool limit_from_option) {
  if (!(limit_bytes > 0)) return;
  for (const Instance& inst : instances) {
    const ShapeSpec& s = inst.shape;
    const double need = estimate_instance_bytes(s, inst.tokens, jobs);
    if (need <= limit_bytes) continue;
    throw InputError(fmt::format(
        "{}: case '{}' shape '{}' (hidden {}, intermediate {}, experts {}, topk {}) at tokens {} with --jobs {} "
        "needs an estimated {}, more than {} {}; shrink the case or raise --max-memory (MiB)",
        inst.spec->file.string(), inst.spec->name, s.name, s.hidden, s.intermediate, s.experts, s.topk, inst.tokens,
        jobs, format_bytes(need), limit_from_option ? "--max-memory" : "the available memory", format_bytes(limit_bytes)));
  }
}

}  // namespace mxg::matrix
