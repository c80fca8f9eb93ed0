// GPU fused-MoE kernels against the double-precision reference: every read path (gate mode x
// is_shuffled, each with its consistent preparation) through every kernel family, on a small shape
// with ragged padding and on the GPT-OSS-20b TP1 and GPT-OSS-120b TP8 rank-0 shapes; inconsistent
// reads must be caught, runs must be bit-reproducible, and the registered "hip" backend must run a
// FusedMoeProblem. Every test is skipped (not passed) where no GPU is visible.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/backend/fused_moe.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/hip/device_buffer.hpp"
#include "kernels/hip/device_info.hpp"
#include "kernels/hip/gpu_runtime.hpp"
#include "kernels/hip/moe_launch.hpp"
#include "kernels/hip/tests/moe_case.hpp"
#include "kernels/hip/tests/moe_prepare.hpp"
#include "kernels/hip/tests/moe_reference.hpp"

namespace mxg::gpu::testing {
namespace {

// Tolerances. A consistent path rounds twice to bf16 (the activations between the GEMMs and y),
// each at most 2^-9 relative; the rest is f32 accumulation of exact products (E2M1 x 2^k times a
// bf16 input). Expected NMSE ~ 2 (2^-9)^2 / 3 = 2.5e-6, so 1e-5 leaves 4x. The worst element of
// ~10^5 is ~5 sigma of the activation error plus the rounding of the largest |y| (~5 rms): about
// 1.5e-2 of rms(y), so 5e-2 leaves 3x. A wrong read path gives NMSE of order 1.
constexpr double kMaxNmse = 1e-5;
constexpr double kMaxRel = 5e-2;
constexpr double kCaughtNmse = 0.1;
constexpr float kLimit = 7.0f, kAlpha = 1.702f;

// Ragged: H = 196 (not a multiple of 8 or 32), 100 units present of 128, two slots.
MoeCaseSpec small_ragged() { return {"small-ragged", 8, 2, 40, 196, 256, 128, 128, 28, 36, 11}; }
// GPT-OSS-20b, TP 1: H 2880 -> 3072, I 2880 -> 3072.
MoeCaseSpec gptoss20b_tp1() { return {"gptoss20b-tp1", 32, 4, 144, 2880, 3072, 2880, 3072, 192, 136, 20}; }
// GPT-OSS-120b, TP 8, rank 0: 384 units loaded into I_p = 512 while intermediate_pad = 152 says 360
// are present, so units 360..383 hold real weights the kernel must treat as absent.
MoeCaseSpec gptoss120b_tp8_rank0() { return {"gptoss120b-tp8-r0", 128, 4, 144, 2880, 3072, 384, 512, 152, 136, 120}; }

struct KernelChoice {
  KernelFamily family;
  int tile_rows;
  std::string name() const {
    std::string n(kernel_family_name(family));
    return tile_rows ? n + "/" + std::to_string(tile_rows) : n;
  }
};

std::vector<KernelChoice> kernel_choices() {
  std::vector<KernelChoice> out = {{KernelFamily::Gemv, 0}, {KernelFamily::TiledSimt, 0}};
  if (tiled_mma_available()) {
    out.push_back({KernelFamily::GemvMma, 0});
    for (int rows : {32, 64, 128}) out.push_back({KernelFamily::TiledMma, rows});
  }
  return out;
}

template <class T>
DeviceBuffer upload(const std::vector<T>& v) {
  return DeviceBuffer::from_host(std::as_bytes(std::span(v)));
}

// One canonical case on the device: shared inputs, one prepared layout at a time.
class DeviceCase {
 public:
  explicit DeviceCase(const CanonicalMoe& c)
      : c_(c),
        hidden_(upload(c.hidden)),
        ids_(upload(c.topk_ids)),
        weights_(upload(c.topk_weights)),
        out_(std::size_t(c.spec.tokens * c.spec.hidden) * 2) {}

  void load(const DeviceLayout& d) {
    layout_ = d;
    w13_ = upload(d.w13);
    w13_scale_ = upload(d.w13_scale);
    w2_ = upload(d.w2);
    w2_scale_ = upload(d.w2_scale);
    w13_bias_ = upload(d.w13_bias);
    w2_bias_ = upload(d.w2_bias);
  }

  // y [tokens, H] for the first `tokens` tokens; the output is poisoned (NaN) first, so an output
  // the kernels never write shows up as non-finite.
  std::vector<std::uint16_t> run(GateMode gate_mode, bool shuffled, KernelChoice kernel, std::int64_t tokens) {
    const MoeCaseSpec& s = c_.spec;
    MoeLaunch l;
    l.shape = {tokens, s.topk, s.experts, s.hidden_padded, s.intermediate_padded, s.hidden_pad(), s.intermediate_pad,
               layout_.w13_scale_cols, layout_.w2_scale_cols};
    l.ptr = {hidden_.as<const std::uint16_t>(), w13_.as<const std::uint8_t>(), w13_scale_.as<const std::uint8_t>(),
             w2_.as<const std::uint8_t>(),      w2_scale_.as<const std::uint8_t>(), w13_bias_.as<const float>(),
             w2_bias_.as<const float>(),        ids_.as<const std::int32_t>(),      weights_.as<const float>(),
             out_.as<std::uint16_t>()};
    l.gate_mode = gate_mode;
    l.is_shuffled = shuffled;
    l.swiglu_limit = kLimit;
    l.alpha = kAlpha;
    l.family = kernel.family;
    l.tile_rows = kernel.tile_rows;
    DeviceBuffer workspace(workspace_bytes(l.shape));
    out_.fill(0xFF);
    enqueue_fused_moe(l, workspace.data(), nullptr);
    check(hipDeviceSynchronize(), "fused-MoE kernels");
    std::vector<std::uint16_t> y(std::size_t(tokens * s.hidden));
    out_.download(std::as_writable_bytes(std::span(y)));
    return y;
  }

 private:
  const CanonicalMoe& c_;
  DeviceBuffer hidden_, ids_, weights_, out_;
  DeviceLayout layout_;
  DeviceBuffer w13_, w13_scale_, w2_, w2_scale_, w13_bias_, w2_bias_;
};

std::string path_name(GateMode g, bool shuffled) {
  return std::string(gate_mode_name(g)) + (shuffled ? "/shuffled" : "/plain");
}

void report(const MoeCaseSpec& s, const std::string& path, const std::string& kernel, std::int64_t tokens,
            const Agreement& a) {
  std::printf("[gpu] %-18s %-21s kernel=%-14s T=%-4lld nmse=%.3e max_rel=%.3e non_finite=%lld\n", s.name.c_str(),
              path.c_str(), kernel.c_str(), static_cast<long long>(tokens), a.nmse, a.max_rel,
              static_cast<long long>(a.non_finite));
  std::fflush(stdout);
}

void expect_agrees(const Agreement& a, const std::string& what) {
  EXPECT_EQ(a.non_finite, 0) << what;
  EXPECT_LE(a.nmse, kMaxNmse) << what;
  EXPECT_LE(a.max_rel, kMaxRel) << what;
}

// Every read path through every kernel family, plus the decode token counts through Auto.
void check_all_paths(const MoeCaseSpec& spec) {
  const CanonicalMoe c = make_case(spec);
  const std::vector<double> ref = reference_moe(c, kLimit, kAlpha);
  DeviceCase dev(c);
  for (GateMode gate : {GateMode::Separated, GateMode::Interleave}) {
    for (bool shuffled : {false, true}) {
      dev.load(prepare_layout(c, gate, shuffled));
      const std::string path = path_name(gate, shuffled);
      for (const KernelChoice& k : kernel_choices()) {
        const Agreement a = compare(dev.run(gate, shuffled, k, spec.tokens), ref);
        report(spec, path, k.name(), spec.tokens, a);
        expect_agrees(a, spec.name + " " + path + " " + k.name());
      }
      for (std::int64_t tokens : {1, 16}) {
        const Agreement a = compare(dev.run(gate, shuffled, {KernelFamily::Auto, 0}, tokens), ref);
        report(spec, path, "auto", tokens, a);
        expect_agrees(a, spec.name + " " + path + " auto T=" + std::to_string(tokens));
      }
    }
  }
}

class GpuFusedMoe : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device_count() == 0) GTEST_SKIP() << "no GPU visible to the " MXG_GPU_PLATFORM_NAME " runtime";
  }
};

TEST_F(GpuFusedMoe, SmallRaggedShapeEveryReadPathAndKernel) { check_all_paths(small_ragged()); }

TEST_F(GpuFusedMoe, GptOss20bTp1EveryReadPathAndKernel) { check_all_paths(gptoss20b_tp1()); }

TEST_F(GpuFusedMoe, GptOss120bTp8Rank0EveryReadPathAndKernel) { check_all_paths(gptoss120b_tp8_rank0()); }

TEST_F(GpuFusedMoe, DecodeTokenCountsResolveToGemv) {
  const MoeCaseSpec s = gptoss120b_tp8_rank0();
  for (std::int64_t tokens : {1, 4, 16}) {
    const MoeShape shape{tokens, s.topk, s.experts, s.hidden_padded, s.intermediate_padded, s.hidden_pad(),
                         s.intermediate_pad, s.hidden_padded / 32, s.intermediate_padded / 32};
    const KernelFamily decode = tiled_mma_available() ? KernelFamily::GemvMma : KernelFamily::Gemv;
    EXPECT_EQ(resolve_family(shape, KernelFamily::Auto), decode) << "T=" << tokens;
  }
}

// The two halves of the original bug: shuffled bytes read by the preshuffle-off path, and
// [gate | up] rows read in interleave mode. Both must be far off, not near the reference.
TEST_F(GpuFusedMoe, InconsistentReadsAreCaught) {
  const CanonicalMoe c = make_case(small_ragged());
  const std::vector<double> ref = reference_moe(c, kLimit, kAlpha);
  DeviceCase dev(c);
  for (const KernelChoice& k : kernel_choices()) {
    dev.load(prepare_layout(c, GateMode::Separated, true));
    const Agreement flag_lost = compare(dev.run(GateMode::Separated, false, k, c.spec.tokens), ref);
    report(c.spec, "separated/shuffled read plain", k.name(), c.spec.tokens, flag_lost);
    EXPECT_GT(flag_lost.nmse, kCaughtNmse) << k.name();
    dev.load(prepare_layout(c, GateMode::Separated, false));
    const Agreement wrong_mode = compare(dev.run(GateMode::Interleave, false, k, c.spec.tokens), ref);
    report(c.spec, "separated/plain read interleave", k.name(), c.spec.tokens, wrong_mode);
    EXPECT_GT(wrong_mode.nmse, kCaughtNmse) << k.name();
  }
}

TEST_F(GpuFusedMoe, RepeatedRunsAreBitIdentical) {
  const CanonicalMoe c = make_case(gptoss120b_tp8_rank0());
  DeviceCase dev(c);
  dev.load(prepare_layout(c, GateMode::Interleave, true));
  for (const KernelChoice& k : kernel_choices()) {
    const auto first = dev.run(GateMode::Interleave, true, k, c.spec.tokens);
    const auto second = dev.run(GateMode::Interleave, true, k, c.spec.tokens);
    EXPECT_EQ(first, second) << k.name();
  }
}

FusedMoeProblem problem_tensors(const CanonicalMoe& c, const DeviceLayout& d, GateMode gate, bool shuffled) {
  const MoeCaseSpec& s = c.spec;
  auto bytes_tensor = [](DType t, Shape shape, const void* data) {
    Tensor out(t, std::move(shape));
    std::memcpy(out.mutable_bytes().data(), data, out.nbytes());
    return out;
  };
  FusedMoeProblem p;
  p.hidden = bytes_tensor(DType::BF16, {s.tokens, s.hidden_padded}, c.hidden.data());
  p.w13 = bytes_tensor(DType::U8, {s.experts, 2 * s.intermediate_padded, s.hidden_padded / 2}, d.w13.data());
  p.w13_scale = bytes_tensor(DType::U8, {d.w13_scale_rows, d.w13_scale_cols}, d.w13_scale.data());
  p.w2 = bytes_tensor(DType::U8, {s.experts, s.hidden_padded, s.intermediate_padded / 2}, d.w2.data());
  p.w2_scale = bytes_tensor(DType::U8, {d.w2_scale_rows, d.w2_scale_cols}, d.w2_scale.data());
  p.w13_bias = bytes_tensor(DType::F32, {s.experts, 2 * s.intermediate_padded}, d.w13_bias.data());
  p.w2_bias = bytes_tensor(DType::F32, {s.experts, s.hidden_padded}, d.w2_bias.data());
  p.topk_ids = bytes_tensor(DType::I32, {s.tokens, s.topk}, c.topk_ids.data());
  p.topk_weights = bytes_tensor(DType::F32, {s.tokens, s.topk}, c.topk_weights.data());
  p.gate_mode = gate;
  p.is_shuffled = shuffled;
  p.hidden_pad = s.hidden_pad();
  p.intermediate_pad = s.intermediate_pad;
  p.swiglu_limit = kLimit;
  p.alpha = kAlpha;
  return p;
}

TEST_F(GpuFusedMoe, RegisteredBackendRunsAProblem) {
  const CanonicalMoe c = make_case(small_ragged());
  const std::vector<double> ref = reference_moe(c, kLimit, kAlpha);
  auto backend = make_backend("hip");
  const BackendInfo info = backend->info();
  EXPECT_EQ(info.backend, "hip");
  EXPECT_NE(info.kernel.find("mxguard-fused-moe-a16w4 v1"), std::string::npos) << info.kernel;
  EXPECT_EQ(info.device, current_device().name);
  const Tensor y = backend->run(problem_tensors(c, prepare_layout(c, GateMode::Interleave, true),
                                                GateMode::Interleave, true));
  ASSERT_EQ(y.dtype(), DType::BF16);
  ASSERT_EQ(y.shape(), (Shape{c.spec.tokens, c.spec.hidden}));
  const auto bits = y.as<std::uint16_t>();
  const Agreement a = compare(std::vector<std::uint16_t>(bits.begin(), bits.end()), ref);
  report(c.spec, "interleave/shuffled", "backend", c.spec.tokens, a);
  expect_agrees(a, "backend");
}

TEST_F(GpuFusedMoe, RegisteredBackendRejectsAMalformedProblem) {
  const CanonicalMoe c = make_case(small_ragged());
  FusedMoeProblem p = problem_tensors(c, prepare_layout(c, GateMode::Separated, false), GateMode::Separated, false);
  p.w13_bias = Tensor(DType::BF16, p.w13_bias.shape());  // the contract wants F32 biases
  EXPECT_THROW(make_backend("hip")->run(p), InputError);
}

}  // namespace
}  // namespace mxg::gpu::testing
