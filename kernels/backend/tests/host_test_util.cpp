// Host-backend test helpers (see host_test_util.hpp).
#include "kernels/backend/tests/host_test_util.hpp"

#include <cmath>

#include <fmt/format.h>

namespace mxg::testing {

std::vector<double> run_host(const FusedMoeProblem& p, int threads) {
  BackendOptions options;
  options.threads = threads;
  const Tensor y = make_backend("host", options)->run(p);
  const auto values = y.to_f32();
  return {values.begin(), values.end()};
}

std::string first_mismatch(const std::vector<double>& y, const std::vector<double>& r, std::int64_t hidden) {
  if (y.size() != r.size()) return fmt::format("size {} vs {}", y.size(), r.size());
  double sq = 0;
  for (const double v : r) sq += v * v;
  const double rms = std::sqrt(sq / static_cast<double>(r.size()));
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double tol = std::ldexp(std::abs(r[i]), -7) + std::ldexp(rms, -7);
    if (!(std::abs(y[i] - r[i]) <= tol)) {
      return fmt::format("y[{}, {}] = {} expected {} (tolerance {})", static_cast<std::int64_t>(i) / hidden,
                         static_cast<std::int64_t>(i) % hidden, y[i], r[i], tol);
    }
  }
  return "";
}

}  // namespace mxg::testing
