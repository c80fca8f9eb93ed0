// The kernel-read verdict of a found chain: the historical scenarios by name, and agreement with
// the matrix's own derive() for every combination (a second route: derive() checks all five
// tensors of a combination at once, check_kernel_read one tensor at a time).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "harness/diagnose/weights/candidates.hpp"
#include "harness/diagnose/weights/kernel_read.hpp"
#include "harness/diagnose/weights/search.hpp"
#include "harness/diagnose/weights/tests/dump_builder.hpp"
#include "harness/matrix/derivation.hpp"
#include "harness/matrix/scenarios.hpp"

namespace mxg::diagnose::weights {
namespace {

using layout::ExpertTensor;
using matrix::Prep;
using matrix::ScaleShuffle;
using matrix::WeightShuffle;
using testing::DumpSpec;
using testing::Form;

const std::vector<matrix::Scenario>& scenarios() {
  static const auto s = matrix::load_scenarios(std::string(MXG_SOURCE_DIR) + "/cases/scenarios.json");
  return s;
}

std::vector<std::string> names(const KernelRead& k) {
  std::vector<std::string> out;
  for (const auto& s : k.scenarios) out.push_back(s.name);
  return out;
}

// The chain the search finds for a dump built from `spec` (GPT-OSS shape, tp 2 rank 1).
Chain found(const DumpSpec& spec) {
  const Tensor checkpoint = testing::random_checkpoint(spec.kind, 2, 2880, 2880, 17);
  const Diagnosis d = diagnose_weights({spec.kind, checkpoint, testing::build_dump(spec, checkpoint), {}, "c", "d"});
  EXPECT_EQ(d.verdict, Verdict::exact) << spec.describe();
  return *d.chain;
}

TEST(WeightsKernelRead, HistoricalScenariosAreNamed) {
  const TpRank tp{2, 1};
  const Chain separated = found({ExpertTensor::gate_up_proj_blocks, tp, true, Shuffle::separated, {}, Form::natural});
  const Chain interleaved = found({ExpertTensor::gate_up_proj_blocks, tp, true, Shuffle::interleaved, {}, Form::natural});
  const auto S = GateMode::Separated;
  const auto I = GateMode::Interleave;

  EXPECT_TRUE(check_kernel_read(separated, S, true, scenarios()).consistent);
  EXPECT_TRUE(check_kernel_read(interleaved, I, true, scenarios()).consistent);

  const KernelRead lost = check_kernel_read(separated, S, false, scenarios());
  EXPECT_FALSE(lost.consistent);
  EXPECT_EQ(names(lost), std::vector<std::string>{"is-shuffled-flag-lost"});
  EXPECT_NE(lost.reason.find("w13 weights: expert 0, gate unit 0, byte 16"), std::string::npos) << lost.reason;

  const KernelRead incident = check_kernel_read(interleaved, S, false, scenarios());
  EXPECT_EQ(names(incident), std::vector<std::string>{"gptoss-rocm-gsm8k-0.21"});
  const KernelRead dispatch = check_kernel_read(interleaved, S, true, scenarios());
  EXPECT_EQ(names(dispatch), std::vector<std::string>{"interleaved-tiles-read-as-separated"});

  // Separated tiles read in interleave mode: wrong, but no historical scenario.
  const KernelRead other = check_kernel_read(separated, I, true, scenarios());
  EXPECT_FALSE(other.consistent);
  EXPECT_TRUE(other.scenarios.empty());

  // The w13 bias: read in [gate | up] order under every flag.
  const Chain bias_left = found({ExpertTensor::gate_up_proj_bias, tp, false, Shuffle::none, {}, Form::f32});
  const KernelRead b = check_kernel_read(bias_left, S, true, scenarios());
  EXPECT_FALSE(b.consistent);
  // A bias still in checkpoint order (g0, u0, g1, u1: GUGU) is what both scenarios leave behind: the
  // bias-only bug, and aiter #5549's everything-in-checkpoint-order read as GGUU blocks. The bias alone
  // cannot tell them apart, so both are named.
  EXPECT_EQ(names(b), (std::vector<std::string>{"bias-left-interleaved", "gugu-rows-read-as-gguu-blocks"}));
  const Chain bias_ok = found({ExpertTensor::gate_up_proj_bias, tp, true, Shuffle::none, {}, Form::f32});
  EXPECT_TRUE(check_kernel_read(bias_ok, I, false, scenarios()).consistent);

  // down_proj shows only its tiles: shuffled bytes read with the preshuffle-off path realise both
  // flag-lost scenarios (their gate_up-side differences are not visible in w2).
  const Chain w2 = found({ExpertTensor::down_proj_blocks, tp, false, Shuffle::separated, {}, Form::natural});
  EXPECT_TRUE(check_kernel_read(w2, I, true, scenarios()).consistent);
  const KernelRead w2_lost = check_kernel_read(w2, I, false, scenarios());
  EXPECT_FALSE(w2_lost.consistent);
  EXPECT_EQ(names(w2_lost), (std::vector<std::string>{"gptoss-rocm-gsm8k-0.21", "is-shuffled-flag-lost"}));
}

// Per-tensor verdicts AND-ed over the five device tensors equal derive() for every combination
// with correct padding (tp 2 rank 1 of I = H = 96: 32 units loaded into I_p = 256).
TEST(WeightsKernelRead, AgreesWithTheMatrixDerivation) {
  const std::int64_t experts = 2;
  const layout::TpPlan plan = layout::tp_plan(96, 96, 2, 1);
  const matrix::Geometry g{.hidden = 96, .hidden_padded = plan.hidden_padded, .loaded_units = plan.units_loaded,
                           .intermediate_padded = plan.intermediate_padded, .units_over_tp = plan.shard_units,
                           .experts = experts};
  const ExpertTensor kinds[] = {ExpertTensor::gate_up_proj_blocks, ExpertTensor::gate_up_proj_scales,
                                ExpertTensor::gate_up_proj_bias, ExpertTensor::down_proj_blocks,
                                ExpertTensor::down_proj_scales};
  // A chain per kind from the search space of a dump of the right shape (contents do not matter).
  auto chain_for = [&](ExpertTensor kind, bool deinterleave, Shuffle shuffle) {
    const Tensor checkpoint = testing::random_checkpoint(kind, experts, 96, 96, 1);
    const DumpSpec spec{kind, TpRank{2, 1}, deinterleave, shuffle, {}, Form::natural};
    const Tensor dump = testing::build_dump(spec, checkpoint);
    for (Chain c : enumerate_chains(kind, checkpoint, dump, {}, "c", "d")) {
      const bool rank = std::ranges::find(c.slice.ranks, TpRank{2, 1}) != c.slice.ranks.end();
      if (rank && c.deinterleave == deinterleave && c.shuffle == shuffle) {
        std::iota(c.experts.begin(), c.experts.end(), 0);
        return c;
      }
    }
    ADD_FAILURE() << "no chain " << spec.describe();
    return Chain{};
  };
  int checked = 0, inconsistent = 0;
  for (const matrix::Combination& combo : matrix::expand_combinations({{"padding", {"correct"}}})) {
    const bool w13_rows = combo.prep != Prep::Interleaved;
    const bool scale_rows = combo.prep == Prep::Deinterleaved || combo.prep == Prep::DeinterleavedBiasInterleaved;
    const bool bias_rows = combo.prep == Prep::Deinterleaved || combo.prep == Prep::DeinterleavedScalesInterleaved;
    const Shuffle w = combo.weight_shuffle == WeightShuffle::None             ? Shuffle::none
                      : combo.weight_shuffle == WeightShuffle::SeparatedTiles ? Shuffle::separated
                                                                              : Shuffle::interleaved;
    const Shuffle s = combo.scale_shuffle == ScaleShuffle::None        ? Shuffle::none
                      : combo.scale_shuffle == ScaleShuffle::Separated ? Shuffle::separated
                                                                       : Shuffle::interleaved;
    // down_proj: the interleaved families are the separated formula (searched as `separated`).
    const Chain chains[] = {chain_for(kinds[0], w13_rows, w), chain_for(kinds[1], scale_rows, s),
                            chain_for(kinds[2], bias_rows, Shuffle::none),
                            chain_for(kinds[3], false, w == Shuffle::none ? w : Shuffle::separated),
                            chain_for(kinds[4], false, s == Shuffle::none ? s : Shuffle::separated)};
    bool all = true;
    for (const Chain& c : chains) all = all && check_kernel_read(c, combo.gate_mode, combo.is_shuffled, {}).consistent;
    const matrix::Derivation expected = matrix::derive(combo, g);
    EXPECT_EQ(all, expected.consistent) << matrix::combination_id(combo) << ": " << expected.reason;
    ++checked;
    inconsistent += all ? 0 : 1;
  }
  EXPECT_EQ(checked, 4 * 3 * 3 * 2 * 2);
  EXPECT_GT(inconsistent, 0);
  EXPECT_LT(inconsistent, checked);
}

}  // namespace
}  // namespace mxg::diagnose::weights
