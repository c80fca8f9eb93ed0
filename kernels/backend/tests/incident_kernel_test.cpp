// The host backend's incident machinery against the independent fp64 MoE: guard zones around every
// weight and scale tensor, the two pad conventions (kernels/backend/pad_convention.hpp) and each
// kernel mutant (kernel_mutants.hpp) changing exactly the outputs its incident class would.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "kernels/backend/guard_zones.hpp"
#include "kernels/backend/kernel_mutants.hpp"
#include "kernels/backend/tests/device_prep.hpp"
#include "kernels/backend/tests/host_test_util.hpp"
#include "kernels/backend/tests/moe_fixture.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::testing {
namespace {

// E = 4 experts, T = 20 tokens, top-2: every expert (the last one included) is routed. H 96 of
// H_p 128; 96 units loaded of I_p 128, so both pads are non-zero.
const MoeShape kShape{4, 96, 128, 96, 128, 2, 20};

std::vector<double> run_with(const FusedMoeProblem& p, PadConvention convention, const std::string& mutant = "") {
  BackendOptions o;
  o.threads = 2;
  o.pad_convention = convention;
  o.kernel_mutant = mutant;
  const Tensor y = make_backend("host", o)->run(p);
  std::vector<double> out;
  for (float v : y.to_f32()) out.push_back(v);
  return out;
}

FusedMoeProblem consistent_problem(const CanonicalMoe& m, GateMode mode) {
  return prepare_device(m, consistent_prep(mode, true), correct_flags(kShape, mode, true));
}

bool any_nan(const std::vector<double>& y) {
  for (double v : y)
    if (std::isnan(v)) return true;
  return false;
}

TEST(GuardZones, CopyKeepsTheBytesBetweenTwoZonesOf0xFF) {
  Tensor t(DType::U8, {3, 5});
  auto bytes = t.as_mut<std::uint8_t>();
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i);
  const Tensor g = guarded_copy(t, 64);
  EXPECT_TRUE(g.same_bytes(t));
  EXPECT_EQ(g.shape(), t.shape());
  const auto* data = reinterpret_cast<const std::uint8_t*>(g.bytes().data());
  EXPECT_EQ(data[-1], 0xFF);
  EXPECT_EQ(data[-64], 0xFF);
  EXPECT_EQ(data[15], 0xFF);  // one past the end: what an unmasked tail load reads
  EXPECT_EQ(data[15 + 63], 0xFF);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % 64, 0u);
  EXPECT_TRUE(guards_intact(g, 64));
  const_cast<std::uint8_t*>(data)[15] = 0;  // an out-of-bounds write
  EXPECT_FALSE(guards_intact(g, 64));
}

TEST(PadConvention, GranuleRoundsTheIntermediatePadDownTo64) {
  EXPECT_EQ(effective_pads(PadConvention::Granule, 192, 152).intermediate_pad, 128);  // GPT-OSS tp 8
  EXPECT_EQ(effective_pads(PadConvention::Granule, 192, 48).intermediate_pad, 0);     // tp 4
  EXPECT_EQ(effective_pads(PadConvention::Granule, 192, 48).hidden_pad, 192);
  EXPECT_EQ(effective_pads(PadConvention::Exact, 192, 152).intermediate_pad, 152);
  EXPECT_THROW(parse_pad_convention("ck"), InputError);
}

TEST(PadConvention, AnOverstatedPadDropsUnitsOnlyForAnExactKernel) {
  const CanonicalMoe m = make_canonical(kShape, 5);
  FusedMoeProblem p = consistent_problem(m, GateMode::Interleave);
  p.intermediate_pad = 56;  // I/tp-style: 128 - 56 = 72 of the 96 loaded units
  EXPECT_LT(nmse(run_with(p, PadConvention::Exact), expected_output(m, 72)), kMatchNmse);
  // 56 // 64 * 64 = 0: CK-tile computes all 128 units, the 32 beyond the loaded 96 are zero.
  EXPECT_LT(nmse(run_with(p, PadConvention::Granule), expected_output(m, 96)), kMatchNmse);
  EXPECT_GT(nmse(run_with(p, PadConvention::Exact), expected_output(m, 96)), kMatchNmse);
}

TEST(KernelMutants, EachChangesOnlyWhatItsIncidentTouches) {
  const CanonicalMoe m = make_canonical(kShape, 9);
  const auto expected = expected_output(m, kShape.units);
  const FusedMoeProblem sep = consistent_problem(m, GateMode::Separated);
  const FusedMoeProblem itl = consistent_problem(m, GateMode::Interleave);
  auto score = [&](const FusedMoeProblem& p, const char* mutant) {
    return nmse(run_with(p, PadConvention::Exact, mutant), expected);
  };
  EXPECT_LT(score(sep, ""), kMatchNmse);
  EXPECT_LT(score(itl, ""), kMatchNmse);

  const auto zeros = run_with(itl, PadConvention::Exact, "zero-output-interleave");
  for (double v : zeros) ASSERT_EQ(v, 0.0);
  EXPECT_LT(score(sep, "zero-output-interleave"), kMatchNmse);

  EXPECT_GT(score(itl, "gugu-rows"), kCaughtNmse);
  EXPECT_LT(score(sep, "gugu-rows"), kMatchNmse);

  // 96 units: no whole 256-unit block, so nothing is computed but the biases.
  EXPECT_GT(score(sep, "inter-dim-tail-256"), kCaughtNmse);

  // H_p - H = 32 uninitialised inputs times zero padding weights: NaN everywhere.
  EXPECT_TRUE(any_nan(run_with(sep, PadConvention::Exact, "k-pad-tail-nan")));
  EXPECT_FALSE(any_nan(run_with(sep, PadConvention::Exact)));

  // The overrun multiplies the byte past w2_scale by zero: only the guard zone's 0xFF shows it.
  EXPECT_TRUE(any_nan(run_with(sep, PadConvention::Exact, "scale-tail-overrun")));
}

TEST(KernelMutants, NamesAreListedAndUnknownOnesRefused) {
  EXPECT_EQ(kernel_mutants().size(), 5u);
  for (const auto& m : kernel_mutants()) {
    EXPECT_EQ(parse_kernel_mutant(m.name), m.mutant);
    EXPECT_FALSE(m.incident.empty());
  }
  EXPECT_EQ(parse_kernel_mutant(""), KernelMutant::None);
  EXPECT_THROW(parse_kernel_mutant("nibble"), InputError);
  BackendOptions o;
  o.kernel_mutant = "nibble";
  EXPECT_THROW(make_backend("host", o), InputError);
}

}  // namespace
}  // namespace mxg::testing
