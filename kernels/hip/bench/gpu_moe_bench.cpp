// Times the GPU fused-MoE layer (routing, both GEMMs, slot reduction) with device events at each
// token count on one layer shape with random weights and uniform random top-k routing, and reports
// the median time and the bandwidth achieved over the routed experts' weight bytes. Each timed run
// uses the next of several routings, so successive runs read mostly different experts and the L2
// cache does not serve weights it kept from the run before. One JSON object per line.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common/errors.hpp"
#include "kernels/hip/device_buffer.hpp"
#include "kernels/hip/device_info.hpp"
#include "kernels/hip/gpu_runtime.hpp"
#include "kernels/hip/moe_launch.hpp"
#include "kernels/tensor/dtype.hpp"

namespace mxg::gpu {
namespace {

struct Options {
  std::int64_t experts = 128, hidden = 2880, intermediate = 2880, topk = 4;
  std::vector<std::int64_t> tokens = {1, 4, 16, 512, 4096};
  int warmup = 5, iterations = 30, routings = 8;
  std::string gate_mode = "separated", family = "auto", json;
  bool shuffled = true;
  std::uint64_t seed = 1;
};

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

// Random bytes in parallel (the 120b layer is ~2 GB of weights).
void fill_random(std::vector<std::uint8_t>& v, std::uint64_t seed) {
  const unsigned n = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t per = (v.size() + n - 1) / n;
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < n; ++w) {
    pool.emplace_back([&, w] {
      std::mt19937_64 rng(seed * 7919 + w);
      for (std::size_t i = w * per; i < std::min(v.size(), (w + 1) * per); i += 8) {
        const std::uint64_t r = rng();
        std::memcpy(&v[i], &r, std::min<std::size_t>(8, v.size() - i));
      }
    });
  }
  for (auto& t : pool) t.join();
}

// E8M0 scales 2^-8 .. 2^-5 (realistic magnitudes; random bytes would give infinities and NaNs).
std::vector<std::uint8_t> random_scales(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> v(n);
  fill_random(v, seed);
  for (auto& s : v) s = static_cast<std::uint8_t>(119 + s % 4);
  return v;
}

template <class T>
DeviceBuffer upload(const std::vector<T>& v) {
  return DeviceBuffer::from_host(std::as_bytes(std::span(v)));
}

struct Routing {
  DeviceBuffer ids, weights;
  std::int64_t distinct_experts = 0;
};

Routing random_routing(const Options& o, std::int64_t tokens, std::mt19937_64& rng) {
  std::vector<std::int32_t> ids(tokens * o.topk);
  std::vector<float> weights(tokens * o.topk);
  std::set<std::int32_t> used;
  std::vector<std::int32_t> experts(o.experts);
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t e = 0; e < o.experts; ++e) experts[e] = std::int32_t(e);
    float sum = 0;
    for (std::int64_t j = 0; j < o.topk; ++j) {  // partial Fisher-Yates: k distinct experts
      const std::int64_t pick = j + std::int64_t(rng() % std::uint64_t(o.experts - j));
      std::swap(experts[j], experts[pick]);
      ids[t * o.topk + j] = experts[j];
      used.insert(experts[j]);
      weights[t * o.topk + j] = 0.2f + float(rng() % 1000) / 1000.0f;
      sum += weights[t * o.topk + j];
    }
    for (std::int64_t j = 0; j < o.topk; ++j) weights[t * o.topk + j] /= sum;
  }
  return {upload(ids), upload(weights), std::int64_t(used.size())};
}

int run(const Options& o) {
  const DeviceInfo device = current_device();
  const std::int64_t hp = round_up(o.hidden, 256), ip = round_up(o.intermediate, 256);
  const std::int64_t e = o.experts;
  // Bytes one routed expert's kernels must read: the present rows and columns and their scales.
  const double expert_bytes = double(2 * o.intermediate) * double(o.hidden / 2 + o.hidden / 32) +
                              double(o.hidden) * double(o.intermediate / 2 + o.intermediate / 32);

  std::vector<std::uint8_t> w13(e * 2 * ip * hp / 2), w2(e * hp * ip / 2);
  fill_random(w13, o.seed);
  fill_random(w2, o.seed + 1);
  const std::int64_t w13_scale_cols = round_up(hp / 32, 8), w2_scale_cols = round_up(ip / 32, 8);
  const DeviceBuffer d_w13 = upload(w13), d_w2 = upload(w2);
  const DeviceBuffer d_w13_scale = upload(random_scales(round_up(e * 2 * ip, 256) * w13_scale_cols, o.seed + 2));
  const DeviceBuffer d_w2_scale = upload(random_scales(round_up(e * hp, 256) * w2_scale_cols, o.seed + 3));
  std::vector<float> b13(e * 2 * ip), b2(e * hp);
  std::mt19937_64 rng(o.seed + 4);
  for (auto& b : b13) b = float(rng() % 1000) / 1000.0f - 0.5f;
  for (auto& b : b2) b = float(rng() % 1000) / 1000.0f - 0.5f;
  const DeviceBuffer d_b13 = upload(b13), d_b2 = upload(b2);

  hipEvent_t start, stop;
  check(hipEventCreate(&start), "hipEventCreate");
  check(hipEventCreate(&stop), "hipEventCreate");
  for (std::int64_t tokens : o.tokens) {
    std::vector<std::uint16_t> hidden(tokens * hp);
    std::normal_distribution<float> normal;
    for (auto& x : hidden) x = f32_to_bf16(normal(rng));
    const DeviceBuffer d_hidden = upload(hidden);
    DeviceBuffer d_y(std::size_t(tokens * o.hidden) * 2);
    std::vector<Routing> routings;
    for (int r = 0; r < o.routings; ++r) routings.push_back(random_routing(o, tokens, rng));

    MoeLaunch l;
    l.shape = {tokens, o.topk, e, hp, ip, hp - o.hidden, ip - o.intermediate, w13_scale_cols, w2_scale_cols};
    l.gate_mode = parse_gate_mode(o.gate_mode);
    l.is_shuffled = o.shuffled;
    l.family = parse_kernel_family(o.family);
    DeviceBuffer workspace(workspace_bytes(l.shape));
    auto launch = [&](const Routing& r) {
      l.ptr = {d_hidden.as<const std::uint16_t>(), d_w13.as<const std::uint8_t>(), d_w13_scale.as<const std::uint8_t>(),
               d_w2.as<const std::uint8_t>(),      d_w2_scale.as<const std::uint8_t>(), d_b13.as<const float>(),
               d_b2.as<const float>(),             r.ids.as<const std::int32_t>(),      r.weights.as<const float>(),
               d_y.as<std::uint16_t>()};
      enqueue_fused_moe(l, workspace.data(), nullptr);
    };

    for (int i = 0; i < o.warmup; ++i) launch(routings[i % routings.size()]);
    check(hipDeviceSynchronize(), "warm-up");
    std::vector<double> seconds, bandwidth;
    for (int i = 0; i < o.iterations; ++i) {
      const Routing& r = routings[i % routings.size()];
      check(hipEventRecord(start, nullptr), "hipEventRecord");
      launch(r);
      check(hipEventRecord(stop, nullptr), "hipEventRecord");
      check(hipEventSynchronize(stop), "timed run");
      float ms = 0;
      check(hipEventElapsedTime(&ms, start, stop), "hipEventElapsedTime");
      seconds.push_back(ms * 1e-3);
      bandwidth.push_back(double(r.distinct_experts) * expert_bytes / (ms * 1e-3));
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    double distinct = 0;
    for (const auto& r : routings) distinct += double(r.distinct_experts);
    distinct /= double(routings.size());
    const double bw = median(bandwidth);
    nlohmann::json row = {{"impl", "mxguard"},
                          {"device", device.name},
                          {"tokens", tokens},
                          {"experts", e},
                          {"hidden", o.hidden},
                          {"intermediate", o.intermediate},
                          {"topk", o.topk},
                          {"family", kernel_family_name(resolve_family(l.shape, l.family))},
                          {"gate_mode", o.gate_mode},
                          {"shuffled", o.shuffled},
                          {"median_us", median(seconds) * 1e6},
                          {"min_us", *std::min_element(seconds.begin(), seconds.end()) * 1e6},
                          {"distinct_experts", distinct},
                          {"weight_mb", distinct * expert_bytes / 1e6},
                          {"bandwidth_tbps", bw / 1e12},
                          {"peak_tbps", device.peak_bandwidth_bytes_per_s / 1e12},
                          {"percent_of_peak", 100.0 * bw / device.peak_bandwidth_bytes_per_s}};
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
    if (!o.json.empty()) {
      if (FILE* f = std::fopen(o.json.c_str(), "a")) {
        std::fprintf(f, "%s\n", row.dump().c_str());
        std::fclose(f);
      }
    }
  }
  (void)hipEventDestroy(start);
  (void)hipEventDestroy(stop);
  return 0;
}

}  // namespace
}  // namespace mxg::gpu

int main(int argc, char** argv) {
  mxg::gpu::Options o;
  CLI::App app{"Time the GPU fused-MoE layer (mxguard's kernels) at several token counts"};
  app.add_option("--experts", o.experts, "experts E")->check(CLI::PositiveNumber);
  app.add_option("--hidden", o.hidden, "hidden size H (padded to a multiple of 256)")->check(CLI::PositiveNumber);
  app.add_option("--intermediate", o.intermediate, "intermediate size I (padded to a multiple of 256)")
      ->check(CLI::PositiveNumber);
  app.add_option("--topk", o.topk, "experts per token")->check(CLI::PositiveNumber);
  app.add_option("--tokens", o.tokens, "token counts")->delimiter(',');
  app.add_option("--warmup", o.warmup, "untimed runs first");
  app.add_option("--iterations", o.iterations, "timed runs (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--routings", o.routings, "random routings cycled through")->check(CLI::PositiveNumber);
  app.add_option("--gate-mode", o.gate_mode, "separated | interleave");
  app.add_flag("--shuffled,!--plain", o.shuffled, "read tile-shuffled (default) or plain weights");
  app.add_option("--family", o.family, "auto | gemv | gemv-mma | tiled-simt | tiled-mma");
  app.add_option("--json", o.json, "append one JSON line per token count to this file");
  app.add_option("--seed", o.seed, "random seed");
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.topk > o.experts) throw mxg::InputError("--topk: larger than --experts");
    return mxg::gpu::run(o);
  } catch (const mxg::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return mxg::exit_code::kUsage;
  } catch (const mxg::InfraError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return mxg::exit_code::kInfra;
  }
}
