// The pipeline grammar `diagnose weights` prints (the README and --help quote it):
//   [experts(A..B of E) | experts([e0, e1, ...] of E)] → [tp-slice(RANKS) → [zero(...)] → pad(...)]
//   → [deinterleave] → [shuffle-weight(...) | shuffle-scale(...)] → [cast(DTYPE) | view(DTYPE)]
#include <gtest/gtest.h>

#include "harness/diagnose/weights/chain.hpp"

namespace mxg::diagnose::weights {
namespace {

using layout::ExpertTensor;

Slice ranks(std::vector<TpRank> r) {
  Slice s;
  s.sliced = true;
  s.ranks = std::move(r);
  return s;
}

TEST(WeightsChain, RankSetsPrintCompactly) {
  EXPECT_EQ(describe_ranks(ranks({{4, 1}})), "tp=4, rank=1");
  EXPECT_EQ(describe_ranks(ranks({{8, 1}, {8, 2}, {8, 3}, {8, 5}})), "tp=8, rank=1..3, 5");
  EXPECT_EQ(describe_ranks(ranks({{1, 0}, {2, 0}, {3, 0}, {5, 0}})), "tp=1..3, 5, rank=0");
  EXPECT_EQ(describe_ranks(ranks({{2, 1}, {3, 1}, {3, 2}})), "tp=2..3, rank=1..tp-1");
  EXPECT_EQ(describe_ranks(ranks({{4, 1}, {6, 2}, {6, 3}})), "tp=4, rank=1 | tp=6, rank=2 | tp=6, rank=3");
  EXPECT_EQ(describe_ranks(ranks({{4, 1}, {6, 2}, {6, 3}, {7, 1}})), "tp=4, rank=1 or 3 more equivalent (tp, rank)");
  Slice any = ranks({});
  any.any_tp = true;
  EXPECT_EQ(describe_ranks(any), "rank=0 of any tp");
  any.bias_zeroed = true;
  EXPECT_EQ(describe_ranks(any), "rank≠0 of any tp");
}

Chain gate_up(std::vector<std::int64_t> experts, std::int64_t total) {
  Chain c;
  c.kind = ExpertTensor::gate_up_proj_blocks;
  c.checkpoint_experts = total;
  c.experts = std::move(experts);
  return c;
}

TEST(WeightsChain, StepsInPipelineOrder) {
  Chain c = gate_up({0, 1, 2, 3}, 4);
  EXPECT_EQ(chain_string(c), "identity");
  EXPECT_EQ(describe_experts(c), "all 4 experts");

  c = gate_up({32, 33, 34}, 128);
  c.slice = ranks({{4, 1}});
  c.slice.intermediate_padded = 768;
  c.slice.hidden_padded = 3072;
  c.deinterleave = true;
  c.shuffle = Shuffle::interleaved;
  c.dump_dtype = DType::I8;
  EXPECT_EQ(chain_string(c), "experts(32..34 of 128) → tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072) → "
                             "deinterleave → shuffle-weight(interleaved, gate-up) → view(I8)");
  EXPECT_EQ(describe_experts(c), "experts 32..34 of 128");

  c = gate_up({9, 8, 7, 6, 5, 4, 3, 2, 1, -1}, 16);
  c.kind = ExpertTensor::down_proj_blocks;
  c.shuffle = Shuffle::separated;
  EXPECT_EQ(chain_string(c), "experts([9, 8, 7, 6, 5, 4, 3, 2, … 10 in all] of 16) → "
                             "shuffle-weight(separated≡interleaved)");

  Chain bias;
  bias.kind = ExpertTensor::down_proj_bias;
  bias.checkpoint_experts = 2;
  bias.experts = {0, 1};
  bias.slice = ranks({});
  bias.slice.any_tp = true;
  bias.slice.bias_zeroed = true;
  bias.slice.hidden_padded = 3072;
  bias.checkpoint_dtype = DType::BF16;
  bias.dump_dtype = DType::F32;
  EXPECT_EQ(chain_string(bias),
            "tp-slice(rank≠0 of any tp) → zero(down bias off rank 0) → pad(H_p=3072) → cast(F32)");
}

// down_proj scales: the two families differ only by the stacked matrix's row padding, so the step
// says which one only where that padding exists.
TEST(WeightsChain, DownScaleFamiliesNamedOnlyWhenDistinct) {
  Chain c;
  c.kind = ExpertTensor::down_proj_scales;
  c.checkpoint_experts = 3;
  c.experts = {0, 1, 2};
  c.shuffle = Shuffle::separated;
  c.slice.window = layout::TpWindow{96, 3, 96, 3, 0, 96, 0, 3};  // unsliced: 3 x 96 rows, not a multiple of 256
  EXPECT_EQ(chain_string(c), "shuffle-scale(separated)");
  c.shuffle = Shuffle::interleaved;
  EXPECT_EQ(chain_string(c), "shuffle-scale(interleaved)");
  c.slice.window = layout::TpWindow{96, 3, 256, 8, 0, 96, 0, 3};
  EXPECT_EQ(chain_string(c), "shuffle-scale(separated≡interleaved)");
  const ChainGeometry g = chain_geometry(c);
  EXPECT_EQ(g.rows, 256);
  EXPECT_EQ(g.padded_cols, 8);
  EXPECT_EQ(g.dump_elements, 3 * 256 * 8);
  EXPECT_EQ(explained_elements(c), 3 * 96 * 3);
}

}  // namespace
}  // namespace mxg::diagnose::weights
