// The accuracy of ggml's CPU MXFP4 MoE against exact arithmetic on GPT-OSS-like shapes, up to the
// 20b (32 experts) and 120b (128 experts) expert counts and the real 2880 width: the NMSE table
// the ggml family's tolerance is set from. Every element must also stay inside the derived q8_0
// bound. Prints one line per shape and weight placement.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "kernels/ggml/ggml_moe.hpp"
#include "kernels/ggml/tests/moe_reference.hpp"
#include "kernels/ggml/tests/random_ggml_problem.hpp"

namespace mxg::ggml_family {
namespace {

using testing::RandomProblemSpec;

struct Shape {
  const char* name;
  RandomProblemSpec spec;
};

const Shape kShapes[] = {
    {"H=I=256 E=8 k=4 T=16", {.tokens = 16, .hidden = 256, .intermediate = 256, .experts = 8, .topk = 4, .seed = 1}},
    {"H=I=352 E=16 k=4 T=8", {.tokens = 8, .hidden = 352, .intermediate = 352, .experts = 16, .topk = 4, .seed = 2}},
    {"H=I=512 E=32 k=4 T=32", {.tokens = 32, .hidden = 512, .intermediate = 512, .experts = 32, .topk = 4, .seed = 3}},
    {"20b experts: H=I=512 E=32 k=4 T=4",
     {.tokens = 4, .hidden = 512, .intermediate = 512, .experts = 32, .topk = 4, .seed = 4}},
    {"120b experts: H=I=256 E=128 k=4 T=4",
     {.tokens = 4, .hidden = 256, .intermediate = 256, .experts = 128, .topk = 4, .seed = 5}},
    {"20b width: H=I=2880 E=4 k=4 T=2",
     {.tokens = 2, .hidden = 2880, .intermediate = 2880, .experts = 4, .topk = 4, .seed = 6}},
};

TEST(GgmlMoeAccuracy, GptOssShapesStayInsideTheBoundAndReportNmse) {
  std::printf("%-38s %-12s %10s %10s %12s %12s %9s\n", "shape", "weights", "NMSE", "predicted", "max|e|/RMS",
              "max|e|/bound", "ggml ms");
  for (const Shape& s : kShapes) {
    const GgmlMoeProblem p = testing::random_problem(s.spec);
    const auto ref = testing::reference_moe(p);
    for (bool extra : {true, false}) {
      GgmlRunReport report;
      const auto start = std::chrono::steady_clock::now();
      const Tensor y = run_ggml_moe(p, GgmlRunOptions{.threads = 2, .extra_buffers = extra}, &report);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      const auto a = testing::agreement(y, ref);
      std::printf("%-38s %-12s %10.3e %10.3e %12.3e %12.3e %9.1f\n", s.name, extra ? "extra bufts" : "plain CPU",
                  a.nmse, a.predicted_nmse, a.max_err_over_rms, a.max_err_over_bound, ms);
      EXPECT_EQ(a.outside_bound, 0) << s.name << (extra ? " (extra buffers)" : " (plain CPU)");
    }
  }
}

// Where ggml's arithmetic departs from the MXFP4 format on purpose-built inputs (facts a matrix
// of input distributions must know; each pinned so that a change in ggml shows here).
const RandomProblemSpec kProbe{.tokens = 4, .hidden = 128, .intermediate = 64, .experts = 4, .topk = 2, .seed = 9};

// E8M0 byte 255 is NaN in the OCP format; ggml decodes it as 2^127 like any other exponent, so
// a NaN block scale yields a finite (or infinite) output instead of NaN.
TEST(GgmlMoeCharacterisation, ScaleByte255IsAPowerOfTwoNotNaN) {
  GgmlMoeProblem p = testing::random_problem(kProbe);
  const std::int64_t e = p.topk_ids.as<std::int32_t>()[0];
  const std::int64_t row_bytes = p.experts.down.dim(2);
  p.experts.down.as_mut<std::uint8_t>()[static_cast<std::size_t>(e * kProbe.hidden * row_bytes)] = 255;
  const auto ref = testing::reference_moe(p);
  const Tensor y = run_ggml_moe(p, 2);
  ASSERT_TRUE(std::isnan(ref.y[0])) << "the reference reads byte 255 as NaN";
  const float got = y.as<float>()[0];
  std::printf("token 0, output 0 with a NaN down scale: reference NaN, ggml %g\n", got);
  EXPECT_FALSE(std::isnan(got));
}

// ggml stores q8_0's activation step d = amax/127 as f16: blocks of hidden state below ~2^-17
// (d under f16's smallest subnormal, 2^-24) are rounded away, blocks above ~2^23 overflow to inf.
TEST(GgmlMoeCharacterisation, ActivationBlocksOutsideF16RangeAreLost) {
  GgmlMoeProblem p = testing::random_problem(kProbe);
  auto hidden = p.hidden.as_mut<float>();
  for (std::int64_t t = 0; t < kProbe.tokens; ++t) {
    for (std::int64_t c = 0; c < 32; ++c) hidden[static_cast<std::size_t>(t * kProbe.hidden + c)] *= 0x1p-40f;
  }
  GgmlMoeProblem zeroed = p;
  auto z = zeroed.hidden.as_mut<float>();
  for (std::int64_t t = 0; t < kProbe.tokens; ++t) {
    for (std::int64_t c = 0; c < 32; ++c) z[static_cast<std::size_t>(t * kProbe.hidden + c)] = 0.0f;
  }
  const Tensor tiny = run_ggml_moe(p, 2);
  // The scaled block's true contribution is 2^-40 of a normal one; ggml's result is that of a
  // zero block, bit for bit.
  EXPECT_TRUE(tiny.same_bytes(run_ggml_moe(zeroed, 2)));

  GgmlMoeProblem huge = testing::random_problem(kProbe);
  auto h = huge.hidden.as_mut<float>();
  for (std::int64_t c = 0; c < 32; ++c) h[static_cast<std::size_t>(c)] *= 0x1p24f;
  const auto ref = testing::reference_moe(huge);
  const Tensor y = run_ggml_moe(huge, 2);
  std::int64_t non_finite = 0;
  for (std::int64_t c = 0; c < kProbe.hidden; ++c) non_finite += std::isfinite(y.as<float>()[static_cast<std::size_t>(c)]) ? 0 : 1;
  std::printf("token 0 with one hidden block x 2^24: %ld of %ld outputs non-finite (reference finite: %d)\n",
              static_cast<long>(non_finite), static_cast<long>(kProbe.hidden), std::isfinite(ref.y[0]) ? 1 : 0);
  EXPECT_TRUE(std::isfinite(ref.y[0]));
  EXPECT_EQ(non_finite, kProbe.hidden);
}

}  // namespace
}  // namespace mxg::ggml_family
