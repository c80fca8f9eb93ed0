// Tests of the expected-outcome derivation against facts stated in LAYOUTS.md §4 and §8 (the
// fixed SGLang pipelines, the incident's combinations, the TP padding table), not against the
// derivation's own formulas.
#include "harness/matrix/derivation.hpp"

#include <gtest/gtest.h>

#include <set>

#include "kernels/common/errors.hpp"

namespace mxg::matrix {
namespace {

// GPT-OSS (H = I = 2880) on one TP rank, per LAYOUTS.md §4's table.
Geometry gptoss(int tp, std::int64_t loaded, std::int64_t i_p) {
  return Geometry{.hidden = 2880, .hidden_padded = 3072, .loaded_units = loaded, .intermediate_padded = i_p,
                  .units_over_tp = 2880 / tp, .experts = 2};
}
// A small shape whose sizes are multiples of every block (fast to derive exhaustively).
Geometry small() {
  return Geometry{.hidden = 96, .hidden_padded = 256, .loaded_units = 64, .intermediate_padded = 256,
                  .units_over_tp = 64, .experts = 3};
}

Combination pipeline(WeightShuffle w, ScaleShuffle s, bool flag, GateMode gate) {
  return {Prep::Deinterleaved, w, s, flag, gate, Padding::Correct};
}

// LAYOUTS.md §8: the two fixed SGLang pipelines, and the unshuffled separated read.
const Combination kSeparatedPipeline =
    pipeline(WeightShuffle::SeparatedTiles, ScaleShuffle::Separated, true, GateMode::Separated);
const Combination kInterleavedPipeline =
    pipeline(WeightShuffle::InterleavedTiles, ScaleShuffle::Interleaved, true, GateMode::Interleave);
const Combination kPlainSeparated = pipeline(WeightShuffle::None, ScaleShuffle::None, false, GateMode::Separated);

TEST(Derivation, FixedSglangPipelinesAreConsistent) {
  for (const auto& g : {small(), gptoss(8, 384, 512)}) {
    EXPECT_TRUE(derive(kSeparatedPipeline, g).consistent) << derive(kSeparatedPipeline, g).reason;
    EXPECT_TRUE(derive(kInterleavedPipeline, g).consistent) << derive(kInterleavedPipeline, g).reason;
    EXPECT_TRUE(derive(kPlainSeparated, g).consistent) << derive(kPlainSeparated, g).reason;
  }
}

TEST(Derivation, OriginalIncidentIsInconsistent) {
  // Interleaved tiles, kernel told gate_mode = separated, is_shuffled lost.
  const auto d = derive(pipeline(WeightShuffle::InterleavedTiles, ScaleShuffle::Interleaved, false, GateMode::Separated),
                        gptoss(8, 384, 512));
  EXPECT_FALSE(d.consistent);
  EXPECT_NE(d.reason.find("w13"), std::string::npos) << d.reason;
}

TEST(Derivation, FlagLostAloneIsInconsistent) {
  auto c = kSeparatedPipeline;
  c.is_shuffled = false;
  EXPECT_FALSE(derive(c, small()).consistent);
  c = kInterleavedPipeline;
  c.is_shuffled = false;
  EXPECT_FALSE(derive(c, small()).consistent);
}

TEST(Derivation, InterleavedTilesReadAsSeparatedIsInconsistent) {
  auto c = kInterleavedPipeline;
  c.gate_mode = GateMode::Separated;
  const auto d = derive(c, small());
  EXPECT_FALSE(d.consistent);
  // The first gate block is where both layouts agree; the first up row (unit 0, up) is not.
  EXPECT_NE(d.reason.find("w13 weights"), std::string::npos) << d.reason;
}

TEST(Derivation, BiasLeftInterleavedIsCaughtOnTheBiasOnly) {
  auto c = kSeparatedPipeline;
  c.prep = Prep::DeinterleavedBiasInterleaved;
  const auto d = derive(c, small());
  EXPECT_FALSE(d.consistent);
  EXPECT_NE(d.reason.find("w13 bias"), std::string::npos) << d.reason;
  c.prep = Prep::DeinterleavedScalesInterleaved;
  const auto s = derive(c, small());
  EXPECT_FALSE(s.consistent);
  EXPECT_NE(s.reason.find("w13 scales"), std::string::npos) << s.reason;
}

TEST(Derivation, PaddingFromIOverTpFollowsTheLoaderTable) {
  // LAYOUTS.md §4: tp 4 loads 736 units on ranks 0-2 and 672 on rank 3 (I_p = 768, I/tp = 720);
  // tp 8 loads 384 on ranks 0-6 and 192 on rank 7 (I_p = 512, I/tp = 360).
  auto c = kSeparatedPipeline;
  c.padding = Padding::FromIOverTp;
  EXPECT_FALSE(derive(c, gptoss(4, 736, 768)).consistent);
  EXPECT_TRUE(derive(c, gptoss(4, 672, 768)).consistent);  // the short last rank hides the bug
  EXPECT_FALSE(derive(c, gptoss(8, 384, 512)).consistent);
  EXPECT_TRUE(derive(c, gptoss(8, 192, 512)).consistent);
  EXPECT_TRUE(derive(c, gptoss(1, 2880, 3072)).consistent);  // I/tp == loaded: same as correct
  const auto d = derive(c, gptoss(8, 384, 512));
  EXPECT_NE(d.reason.find("360"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("384"), std::string::npos) << d.reason;
}

TEST(Derivation, GranulePadConventionComputesEveryLoadedUnitOfTheGptossTable) {
  // LAYOUTS.md §4: CK-tile rounds intermediate_pad down to 64 (stage 1): tp 8's 152 -> 128 leaves
  // 512 - 128 = 384 units, exactly what ranks 0-6 load; tp 4's 48 -> 0 leaves all 768.
  auto c = kInterleavedPipeline;
  c.padding = Padding::FromIOverTp;
  for (const auto& g : {gptoss(4, 736, 768), gptoss(4, 672, 768), gptoss(8, 384, 512), gptoss(8, 192, 512)}) {
    EXPECT_TRUE(derive(c, g, PadConvention::Granule).consistent) << derive(c, g, PadConvention::Granule).reason;
  }
  EXPECT_EQ(kernel_units(c, gptoss(8, 384, 512), PadConvention::Granule), 384);
  EXPECT_EQ(kernel_units(c, gptoss(8, 384, 512), PadConvention::Exact), 360);
  EXPECT_EQ(kernel_units(c, gptoss(4, 736, 768), PadConvention::Granule), 768);
  // The same pad taken exactly (FlyDSL) drops real units: the vLLM #44679 class.
  EXPECT_FALSE(derive(c, gptoss(8, 384, 512), PadConvention::Exact).consistent);
  // A pad that hides 64 or more loaded units is not rescued by rounding: a ragged rank of 224 units
  // over 4 (64 loaded, I/tp 56, I_p 256: pad 200 -> 192 leaves 64, fine) against one stated from
  // 32 units (pad 224 -> 192: 64 used) and one from 0 (pad 256: 0 used).
  const Geometry ragged{.hidden = 128, .hidden_padded = 256, .loaded_units = 64, .intermediate_padded = 256,
                        .units_over_tp = 56, .experts = 2};
  EXPECT_TRUE(derive(c, ragged, PadConvention::Granule).consistent);
  const Geometry hides_all{.hidden = 128, .hidden_padded = 256, .loaded_units = 64, .intermediate_padded = 256,
                           .units_over_tp = 0, .experts = 2};
  const auto d = derive(c, hides_all, PadConvention::Granule);
  EXPECT_FALSE(d.consistent);
  EXPECT_NE(d.reason.find("granule"), std::string::npos) << d.reason;
}

TEST(Derivation, ExactlyTheSpecifiedPipelinesAreConsistentInTheFullProduct) {
  std::set<std::string> consistent;
  for (const auto& c : expand_combinations({{"padding", {"correct"}}})) {
    if (derive(c, small()).consistent) consistent.insert(combination_id(c));
  }
  const std::set<std::string> expected = {combination_id(kSeparatedPipeline), combination_id(kInterleavedPipeline),
                                          combination_id(kPlainSeparated)};
  EXPECT_EQ(consistent, expected);
}

TEST(Derivation, ConsistencyDoesNotDependOnPlacementOfOtherExperts) {
  // The last expert is checked too: a consistent pipeline stays consistent with many experts.
  auto g = small();
  g.experts = 7;
  EXPECT_TRUE(derive(kSeparatedPipeline, g).consistent);
  EXPECT_TRUE(derive(kInterleavedPipeline, g).consistent);
}

TEST(Dimensions, ExpandRestrictsAndRejectsUnknownValues) {
  EXPECT_EQ(expand_combinations({}).size(), 4u * 3u * 3u * 2u * 2u * 2u);
  EXPECT_EQ(expand_combinations({{"gate_mode", {"interleave"}}, {"is_shuffled", {"true"}}}).size(), 4u * 3u * 3u * 2u);
  EXPECT_THROW(expand_combinations({{"gate_mode", {"interleaved"}}}), InputError);
  EXPECT_THROW(expand_combinations({{"gate", {"separated"}}}), InputError);
}

TEST(Dimensions, IdNamesEveryDimension) {
  EXPECT_EQ(combination_id(kSeparatedPipeline),
            "prep=deinterleaved/wshuf=separated-tiles/sshuf=separated/flag=1/gate=separated/pad=correct");
}

}  // namespace
}  // namespace mxg::matrix
