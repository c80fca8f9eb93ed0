// Every chain the layout library builds is recovered exactly: all slices / row preps / shuffles /
// expert selections of a small shape, representative ones of GPT-OSS shapes, and seeded random
// compositions with random shapes and storage forms. The dumps come from the transforms
// themselves (dump_builder), the expectations from the spec that built them.
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include <fmt/format.h>

#include "harness/diagnose/weights/search.hpp"
#include "harness/diagnose/weights/tests/dump_builder.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::diagnose::weights {
namespace {

using layout::ExpertTensor;
using testing::build_dump;
using testing::DumpSpec;
using testing::Form;
using testing::random_checkpoint;

constexpr ExpertTensor kKinds[] = {ExpertTensor::gate_up_proj_blocks, ExpertTensor::gate_up_proj_scales,
                                   ExpertTensor::gate_up_proj_bias,   ExpertTensor::down_proj_blocks,
                                   ExpertTensor::down_proj_scales,    ExpertTensor::down_proj_bias};

struct Shape3 {
  std::int64_t experts, intermediate, hidden;
};

// Rows and row elements of the logical dump a spec gives (what the library's transforms produce).
std::pair<std::int64_t, std::int64_t> logical_rows_cols(const DumpSpec& s, const Shape3& sh) {
  std::int64_t i = sh.intermediate, h = sh.hidden;
  if (s.tp) {
    const auto plan = layout::tp_plan(sh.intermediate, sh.hidden, s.tp->tp, s.tp->rank);
    i = plan.intermediate_padded;
    h = plan.hidden_padded;
  }
  switch (s.kind) {
    case ExpertTensor::gate_up_proj_blocks: return {2 * i, h / 2};
    case ExpertTensor::gate_up_proj_scales: return {2 * i, h / 32};
    case ExpertTensor::gate_up_proj_bias: return {2 * i, 1};
    case ExpertTensor::down_proj_blocks: return {h, i / 2};
    case ExpertTensor::down_proj_scales: return {h, i / 32};
    case ExpertTensor::down_proj_bias: return {h, 1};
  }
  return {0, 0};
}

// The library can build this shuffle for this shape (AITER's preconditions, LAYOUTS.md §6-§7).
bool buildable(const DumpSpec& s, const Shape3& sh) {
  if (s.shuffle == Shuffle::none) return true;
  if (is_bias(s.kind)) return false;
  const auto [rows, cols] = logical_rows_cols(s, sh);
  if (is_blocks(s.kind)) {
    if (s.shuffle == Shuffle::separated) return rows % 16 == 0 && cols % 32 == 0;
    return rows % (is_gate_up(s.kind) ? 32 : 16) == 0 && cols % 64 == 0;
  }
  return s.shuffle == Shuffle::separated || rows % 32 == 0;
}

// The family the search names: down_proj's interleaved tiles are the separated formula, and its
// interleaved scales differ from separated ones only by the stacked matrix's row padding.
Shuffle named_shuffle(const DumpSpec& s, const Shape3& sh, std::int64_t dump_experts) {
  if (is_gate_up(s.kind) || s.shuffle != Shuffle::interleaved) return s.shuffle;
  if (is_blocks(s.kind)) return Shuffle::separated;
  const auto [rows, cols] = logical_rows_cols(s, sh);
  return dump_experts * rows % 256 == 0 ? Shuffle::separated : Shuffle::interleaved;
}

// Why chain c is not the spec's chain (empty when it is).
std::string differs(const Chain& c, const DumpSpec& spec, const Shape3& sh, const std::vector<std::int64_t>& experts) {
  std::vector<std::string> why;
  if (c.slice.sliced != spec.tp.has_value()) why.emplace_back("sliced");
  if (spec.tp && !c.slice.any_tp && std::ranges::find(c.slice.ranks, *spec.tp) == c.slice.ranks.end()) {
    why.push_back(fmt::format("lacks tp {} rank {}", spec.tp->tp, spec.tp->rank));
  }
  if (c.deinterleave != spec.deinterleave) why.emplace_back("deinterleave");
  if (c.shuffle != named_shuffle(spec, sh, static_cast<std::int64_t>(experts.size()))) why.emplace_back("shuffle");
  const bool zeroed = spec.kind == ExpertTensor::down_proj_bias && spec.tp && spec.tp->rank != 0;
  if (c.slice.bias_zeroed != zeroed) why.emplace_back("bias_zeroed");
  // A zeroed bias reads the same under every pairing: only the count is determined.
  if (zeroed ? c.experts.size() != experts.size() : c.experts != experts) why.emplace_back("experts");
  return fmt::format("{}", fmt::join(why, ", "));
}

void expect_recovered(const DumpSpec& spec, const Shape3& sh, const Tensor& checkpoint, SpaceLimits limits = {}) {
  SCOPED_TRACE(spec.describe());
  const Tensor dump = build_dump(spec, checkpoint);
  const Diagnosis d = diagnose_weights({spec.kind, checkpoint, dump, limits, "checkpoint", "dump"});
  ASSERT_EQ(d.verdict, Verdict::exact) << (d.chain ? chain_string(*d.chain) : "no chain") << " tiles "
                                       << d.verification.matched << "/" << d.verification.tiles;
  std::vector<std::int64_t> experts = spec.experts;
  if (experts.empty()) {
    experts.resize(static_cast<std::size_t>(sh.experts));
    std::iota(experts.begin(), experts.end(), 0);
  }
  // Chains that produce the same bytes outside padding are all exact (an unsliced separated scale
  // shuffle whose 8-column padding equals tp 1's H_p, say): the spec's chain must be one of them,
  // and all of them explain the same elements.
  std::vector<Chain> exact{*d.chain};
  exact.insert(exact.end(), d.alternatives.begin(), d.alternatives.end());
  std::string reasons;
  bool found = false;
  for (const Chain& c : exact) {
    const std::string why = differs(c, spec, sh, experts);
    found = found || why.empty();
    reasons += fmt::format("\n  {}: {}", chain_string(c), why.empty() ? "ok" : why);
    EXPECT_EQ(explained_elements(c), explained_elements(*d.chain));
  }
  EXPECT_TRUE(found) << reasons;
  const bool zeroed = spec.kind == ExpertTensor::down_proj_bias && spec.tp && spec.tp->rank != 0;
  if (!zeroed) EXPECT_TRUE(d.ambiguous_experts.empty());
  EXPECT_EQ(d.verification.matched, d.verification.tiles);
  EXPECT_GT(d.verification.tiles, 0);
}

std::vector<std::optional<TpRank>> slices_up_to(std::int64_t max_tp) {
  std::vector<std::optional<TpRank>> out{std::nullopt};
  for (std::int64_t tp = 1; tp <= max_tp; ++tp)
    for (std::int64_t r = 0; r < tp; ++r) out.push_back(TpRank{tp, r});
  return out;
}

// Small shape, everything: 6 kinds x (unsliced + every rank of tp 1..3) x row prep x shuffle,
// each with all experts, a contiguous expert range and a permuted subset, in varied storage forms.
TEST(WeightsRecovery, EveryChainOfASmallShape) {
  const Shape3 sh{4, 96, 64};  // I/32 = 3 blocks: tp 2 and 3 slice unevenly
  int recovered = 0;
  for (const ExpertTensor kind : kKinds) {
    const Tensor checkpoint = random_checkpoint(kind, sh.experts, sh.intermediate, sh.hidden, 11);
    for (const auto& tp : slices_up_to(3)) {
      for (const bool deint : is_gate_up(kind) ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
        for (const Shuffle shuffle : {Shuffle::none, Shuffle::separated, Shuffle::interleaved}) {
          DumpSpec spec{kind, tp, deint, shuffle, {}, Form::natural};
          if (!buildable(spec, sh)) continue;
          const std::vector<std::vector<std::int64_t>> selections = {{}, {1, 2}, {3, 0, 2}};
          for (std::size_t s = 0; s < selections.size(); ++s) {
            spec.experts = selections[s];
            spec.form = is_bias(kind)                          ? (s == 1 ? Form::f32 : Form::natural)
                        : s == 1                               ? Form::int8
                        : s == 2 && is_blocks(kind)            ? Form::four_d
                        : s == 2 && shuffle == Shuffle::none   ? Form::stacked_2d
                                                               : Form::natural;
            expect_recovered(spec, sh, checkpoint);
            ++recovered;
          }
        }
      }
    }
  }
  EXPECT_GT(recovered, 300);
}

// GPT-OSS shapes (I = H = 2880, a few experts): tp 1, 2, 4 and 8 on their first and last rank,
// the SGLang pipelines (de-interleave, both shuffle families) and the bug pipelines.
TEST(WeightsRecovery, GptOssShapes) {
  const Shape3 sh{2, 2880, 2880};
  for (const ExpertTensor kind : kKinds) {
    const Tensor checkpoint = random_checkpoint(kind, sh.experts, sh.intermediate, sh.hidden, 21);
    const TpRank ranks[] = {{1, 0}, {2, 1}, {4, 0}, {4, 3}, {8, 1}, {8, 7}};
    for (std::size_t i = 0; i < std::size(ranks); ++i) {
      const Shuffle shuffle = i % 3 == 0 ? Shuffle::separated : i % 3 == 1 ? Shuffle::interleaved : Shuffle::none;
      DumpSpec spec{kind, ranks[i], is_gate_up(kind) && i % 2 == 0, is_bias(kind) ? Shuffle::none : shuffle, {}, Form::natural};
      if (!buildable(spec, sh)) continue;
      if (is_bias(kind)) spec.form = Form::f32;
      expect_recovered(spec, sh, checkpoint);
    }
  }
}

// The issue's example: gate_up blocks at tp 4 rank 1, de-interleaved, interleaved gate-up tiles,
// searched with and without --tp, an expert-parallel half of the experts.
TEST(WeightsRecovery, IssueExampleWithAndWithoutTp) {
  const Shape3 sh{4, 2880, 2880};
  const Tensor checkpoint = random_checkpoint(ExpertTensor::gate_up_proj_blocks, sh.experts, sh.intermediate,
                                              sh.hidden, 5);
  const DumpSpec spec{ExpertTensor::gate_up_proj_blocks, TpRank{4, 1}, true, Shuffle::interleaved, {2, 3}, Form::natural};
  expect_recovered(spec, sh, checkpoint);
  expect_recovered(spec, sh, checkpoint, SpaceLimits{4, 2});
  const Diagnosis d = diagnose_weights({spec.kind, checkpoint, build_dump(spec, checkpoint), {}, "c", "d"});
  EXPECT_EQ(chain_string(*d.chain),
            "experts(2..3 of 4) → tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072) → deinterleave → "
            "shuffle-weight(interleaved, gate-up)");
}

// Seeded random compositions: random shape (I, H multiples of 32, not of 256), expert count,
// slice, row prep, shuffle, expert subset and storage form.
TEST(WeightsRecovery, RandomCompositions) {
  std::mt19937_64 rng(20261204);
  int done = 0;
  for (int iter = 0; done < 60 && iter < 1000; ++iter) {
    const ExpertTensor kind = kKinds[rng() % std::size(kKinds)];
    Shape3 sh{static_cast<std::int64_t>(1 + rng() % 6), 32 * static_cast<std::int64_t>(1 + rng() % 12),
              32 * static_cast<std::int64_t>(1 + rng() % 12)};
    if (sh.intermediate % 256 == 0 || sh.hidden % 256 == 0) continue;  // padding would be a no-op
    DumpSpec spec;
    spec.kind = kind;
    if (rng() % 5 != 0) {
      // The library slices a bias by the one size its shape gives (H for the down bias).
      const std::int64_t sliced = kind == ExpertTensor::down_proj_bias ? sh.hidden : sh.intermediate;
      const std::int64_t tp = 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(sliced / 32));
      const auto plan = layout::tp_plan(sliced, sliced, tp, static_cast<std::int64_t>(rng() % tp));
      if (plan.units_loaded == 0) continue;
      spec.tp = TpRank{tp, plan.rank};
    }
    spec.deinterleave = is_gate_up(kind) && rng() % 2 == 0;
    spec.shuffle = static_cast<Shuffle>(rng() % 3);
    if (!buildable(spec, sh)) continue;
    const auto n = static_cast<std::int64_t>(1 + rng() % static_cast<std::uint64_t>(sh.experts));
    std::mt19937_64 pick(rng());
    spec.experts = testing::random_experts(pick, sh.experts, n, rng() % 2 == 0);
    const Form forms[] = {Form::natural, Form::four_d, Form::stacked_2d, Form::int8};
    spec.form = is_bias(kind) ? (rng() % 2 ? Form::f32 : Form::natural) : forms[rng() % 4];
    if (spec.form == Form::four_d && !is_blocks(kind)) spec.form = Form::natural;
    if (spec.form == Form::stacked_2d && spec.shuffle != Shuffle::none) spec.form = Form::natural;
    const Tensor checkpoint = random_checkpoint(kind, sh.experts, sh.intermediate, sh.hidden, rng());
    expect_recovered(spec, sh, checkpoint);
    ++done;
  }
  EXPECT_EQ(done, 60);
}

}  // namespace
}  // namespace mxg::diagnose::weights
