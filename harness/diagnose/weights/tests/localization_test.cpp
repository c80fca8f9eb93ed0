// Honest partial answers: a dump with one corrupted element is PARTIAL (never EXACT), and the
// report points at that tile (dump expert, row block, column block) with both values; a dump of a
// layout the library does not build is UNKNOWN. Corruptions are made in the logical (pre-shuffle)
// tensor, so the expected tile is known without the search's maps.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "harness/diagnose/weights/search.hpp"
#include "harness/diagnose/weights/tests/dump_builder.hpp"
#include "kernels/layout/index_maps.hpp"

namespace mxg::diagnose::weights {
namespace {

using layout::ExpertTensor;
using testing::DumpSpec;
using testing::finish_dump;
using testing::Form;
using testing::logical_dump;
using testing::random_checkpoint;

std::string hex(std::uint8_t b) { return fmt::format("0x{:02x}", static_cast<unsigned>(b)); }

// The GPT-OSS case: gate_up blocks, tp 4 rank 1 (units 736..1471, I_p 768), experts 2 and
// 0 of 3, de-interleaved, interleaved gate-up tiles. One byte of dump expert 1's up unit 100 flips.
TEST(WeightsLocalization, CorruptedBlockTileIsNamed) {
  const Tensor checkpoint = random_checkpoint(ExpertTensor::gate_up_proj_blocks, 3, 2880, 2880, 3);
  const DumpSpec spec{ExpertTensor::gate_up_proj_blocks, TpRank{4, 1}, true, Shuffle::interleaved, {2, 0},
                      Form::natural};
  Tensor logical = logical_dump(spec, checkpoint);  // [2, 1536, 1536]
  const std::int64_t rows = logical.dim(1), cols = logical.dim(2), i_p = rows / 2, loaded = 736, start = 736;
  const std::int64_t d = 1, row = i_p + 100, col = 700;
  auto bytes = logical.as_mut<std::uint8_t>();
  const std::uint8_t before = bytes[static_cast<std::size_t>((d * rows + row) * cols + col)];
  const std::uint8_t after = before ^ 0x5A;
  bytes[static_cast<std::size_t>((d * rows + row) * cols + col)] = after;
  const Tensor dump = finish_dump(spec, logical);

  const Diagnosis r = diagnose_weights({spec.kind, checkpoint, dump, {}, "checkpoint", "dump"});
  ASSERT_EQ(r.verdict, Verdict::partial);
  ASSERT_TRUE(r.chain);
  EXPECT_EQ(chain_string(*r.chain),
            "experts([2, 0] of 3) → tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072) → deinterleave → "
            "shuffle-weight(interleaved, gate-up)");
  // Tiles holding data: per expert, the gate and the up half each have ceil(736/16) row blocks of
  // real units, times 1440/16 column blocks of real bytes.
  const std::int64_t tiles = 2 * (2 * ((loaded + 15) / 16)) * (1440 / 16);
  EXPECT_EQ(r.verification.tiles, tiles);
  EXPECT_EQ(r.verification.matched, tiles - 1);
  ASSERT_EQ(r.verification.first.size(), 1u);
  const Mismatch& m = r.verification.first[0];
  EXPECT_EQ(m.dump_expert, d);
  EXPECT_EQ(m.row_block, row / 16);
  EXPECT_EQ(m.col_block, col / 16);
  EXPECT_EQ(m.row, row);
  EXPECT_EQ(m.col, col);
  EXPECT_EQ(m.checkpoint_expert, 0);
  EXPECT_EQ(m.source_row, 2 * (start + 100) + 1);  // the up row of unit 836, in checkpoint order
  EXPECT_EQ(m.source_col, col);
  EXPECT_EQ(m.dump_value, hex(after));
  EXPECT_EQ(m.checkpoint_value, hex(before));
  // Where the interleaved gate-up tile shuffle (LAYOUTS.md §6) put that byte.
  EXPECT_EQ(m.dump_offset, d * rows * cols + layout::weight_shuffle_offset(row, col, rows, cols, true));
  EXPECT_EQ(dump.as<std::uint8_t>()[static_cast<std::size_t>(m.dump_offset)], after);
}

// Scales (stacked separated shuffle, 2-D and padded) and an F32 bias: the same, element-granular.
TEST(WeightsLocalization, CorruptedScaleAndBiasElements) {
  {
    const Tensor checkpoint = random_checkpoint(ExpertTensor::down_proj_scales, 4, 2880, 2880, 4);
    const DumpSpec spec{ExpertTensor::down_proj_scales, TpRank{8, 7}, false, Shuffle::separated, {}, Form::natural};
    Tensor logical = logical_dump(spec, checkpoint);  // [4, 3072, 16]; rank 7 loads 192 units = 6 blocks
    const std::int64_t rows = logical.dim(1), cols = logical.dim(2);
    const std::int64_t d = 3, row = 2879, col = 5;
    auto bytes = logical.as_mut<std::uint8_t>();
    const std::uint8_t before = bytes[static_cast<std::size_t>((d * rows + row) * cols + col)];
    bytes[static_cast<std::size_t>((d * rows + row) * cols + col)] = static_cast<std::uint8_t>(before + 1);
    const Diagnosis r = diagnose_weights({spec.kind, checkpoint, finish_dump(spec, logical), {}, "c", "d"});
    ASSERT_EQ(r.verdict, Verdict::partial);
    EXPECT_EQ(chain_string(*r.chain),
              "tp-slice(tp=8, rank=7) → pad(I_p=512, H_p=3072) → shuffle-scale(separated≡interleaved)");
    // Rows 0..2879 hold data (180 row blocks), columns 0..5 (one column block).
    EXPECT_EQ(r.verification.tiles, 4 * 180);
    EXPECT_EQ(r.verification.matched, 4 * 180 - 1);
    ASSERT_EQ(r.verification.first.size(), 1u);
    EXPECT_EQ(r.verification.first[0].dump_expert, d);
    EXPECT_EQ(r.verification.first[0].row_block, row / 16);
    EXPECT_EQ(r.verification.first[0].col_block, 0);
    EXPECT_EQ(r.verification.first[0].source_col, 7 * 12 + col);  // rank 7 starts at unit 2688 = block 84
    EXPECT_EQ(r.verification.first[0].checkpoint_value, hex(before));
  }
  {
    const Tensor checkpoint = random_checkpoint(ExpertTensor::gate_up_proj_bias, 2, 2880, 2880, 5);
    const DumpSpec spec{ExpertTensor::gate_up_proj_bias, TpRank{2, 0}, true, Shuffle::none, {}, Form::f32};
    Tensor logical = logical_dump(spec, checkpoint);  // BF16 [2, 3072]
    auto values = logical.as_mut<std::uint16_t>();
    const std::int64_t d = 0, row = 1536 + 5;  // up unit 5
    values[static_cast<std::size_t>(d * 3072 + row)] = f32_to_bf16(12288.0f);  // exact in bf16
    const Diagnosis r = diagnose_weights({spec.kind, checkpoint, finish_dump(spec, logical), {}, "c", "d"});
    ASSERT_EQ(r.verdict, Verdict::partial);
    ASSERT_EQ(r.verification.first.size(), 1u);
    EXPECT_EQ(r.verification.first[0].row_block, row / 16);
    EXPECT_EQ(r.verification.first[0].source_row, 11);  // checkpoint order: up unit 5 is row 2*5+1
    EXPECT_EQ(r.verification.first[0].dump_value, "12288");
    EXPECT_EQ(r.verification.first[0].checkpoint_value,
              fmt::format("{}", bf16_to_f32(checkpoint.as<std::uint16_t>()[11])));
  }
}

// A corrupted tail must not turn into an exact claim of a smaller window: tp 9 rank 0 (units
// 0..319 in the same I_p = 512) reads units 320..383 as padding and would match every byte it
// compares, but tp 8 rank 0 matches more, so the answer is tp 8, PARTIAL.
TEST(WeightsLocalization, CorruptedTailIsNotCalledPadding) {
  const Tensor checkpoint = random_checkpoint(ExpertTensor::gate_up_proj_blocks, 2, 2880, 2880, 12);
  const DumpSpec spec{ExpertTensor::gate_up_proj_blocks, TpRank{8, 0}, false, Shuffle::separated, {}, Form::natural};
  Tensor logical = logical_dump(spec, checkpoint);  // [2, 1024, 1536], checkpoint row order
  const std::int64_t cols = logical.dim(2), row = 2 * 380;  // gate row of unit 380
  logical.as_mut<std::uint8_t>()[static_cast<std::size_t>(row * cols + 3)] ^= 0xFF;
  const Diagnosis r = diagnose_weights({spec.kind, checkpoint, finish_dump(spec, logical), {}, "c", "d"});
  EXPECT_EQ(r.verdict, Verdict::partial);
  EXPECT_EQ(describe_ranks(r.chain->slice), "tp=8, rank=0");
  ASSERT_EQ(r.verification.first.size(), 1u);
  EXPECT_EQ(r.verification.first[0].row_block, row / 16);
  EXPECT_EQ(r.verification.first[0].col_block, 0);
}

// One dump expert that is none of the checkpoint's: three quarters match, and the mismatches name
// that expert without a checkpoint partner.
TEST(WeightsLocalization, ForeignExpertIsReported) {
  const Tensor checkpoint = random_checkpoint(ExpertTensor::down_proj_blocks, 6, 256 + 64, 128 + 32, 6);
  const DumpSpec spec{ExpertTensor::down_proj_blocks, TpRank{2, 0}, false, Shuffle::separated, {5, 1, 3, 0},
                      Form::natural};
  Tensor logical = logical_dump(spec, checkpoint);
  const std::size_t per_expert = logical.nbytes() / 4;
  std::mt19937_64 rng(9);
  auto bytes = logical.as_mut<std::uint8_t>();
  for (std::size_t i = 2 * per_expert; i < 3 * per_expert; ++i) bytes[i] = static_cast<std::uint8_t>(rng());
  const Diagnosis r = diagnose_weights({spec.kind, checkpoint, finish_dump(spec, logical), {}, "c", "d"});
  ASSERT_EQ(r.verdict, Verdict::partial);
  EXPECT_EQ(r.chain->experts, (std::vector<std::int64_t>{5, 1, -1, 0}));
  EXPECT_EQ(r.verification.matched * 4, r.verification.tiles * 3);
  ASSERT_FALSE(r.verification.first.empty());
  EXPECT_EQ(r.verification.first[0].dump_expert, 2);
  EXPECT_EQ(r.verification.first[0].checkpoint_expert, -1);
  EXPECT_EQ(r.verification.first[0].row_block, 0);
  EXPECT_EQ(r.verification.first[0].col_block, 0);
}

// Layouts outside the library: tiles stored column-major, the tile grid transposed, rows permuted
// at random, and a dump of a size no chain produces. Never EXACT; UNKNOWN with a closest candidate
// whose tile fraction is reported, or with a note when nothing even fits the size.
TEST(WeightsLocalization, LayoutOutsideTheLibraryIsUnknown) {
  const Tensor checkpoint = random_checkpoint(ExpertTensor::gate_up_proj_blocks, 2, 2880, 2880, 7);
  const DumpSpec spec{ExpertTensor::gate_up_proj_blocks, TpRank{8, 2}, true, Shuffle::separated, {}, Form::natural};
  const Tensor good = testing::build_dump(spec, checkpoint);
  const std::int64_t rows = good.dim(1), cols = good.dim(2);
  ASSERT_EQ(diagnose_weights({spec.kind, checkpoint, good, {}, "c", "d"}).verdict, Verdict::exact);

  auto expect_unknown = [&](const Tensor& dump, const char* what) {
    SCOPED_TRACE(what);
    const Diagnosis r = diagnose_weights({spec.kind, checkpoint, dump, {}, "c", "d"});
    EXPECT_EQ(r.verdict, Verdict::unknown) << (r.chain ? chain_string(*r.chain) : "");
    ASSERT_TRUE(r.chain);
    EXPECT_LT(r.verification.fraction(), 0.5);
  };
  {  // each 256-byte tile transposed (16x16 column-major)
    Tensor t(DType::U8, good.shape());
    const auto src = good.as<std::uint8_t>();
    auto dst = t.as_mut<std::uint8_t>();
    for (std::size_t tile = 0; tile < src.size() / 256; ++tile)
      for (std::size_t i = 0; i < 16; ++i)
        for (std::size_t j = 0; j < 16; ++j) dst[tile * 256 + j * 16 + i] = src[tile * 256 + i * 16 + j];
    expect_unknown(t, "column-major tiles");
  }
  {  // tiles in column-block-major order
    Tensor t(DType::U8, good.shape());
    const auto src = good.as<std::uint8_t>();
    auto dst = t.as_mut<std::uint8_t>();
    const std::int64_t rbs = rows / 16, cbs = cols / 16;
    for (std::int64_t e = 0; e < good.dim(0); ++e)
      for (std::int64_t rb = 0; rb < rbs; ++rb)
        for (std::int64_t cb = 0; cb < cbs; ++cb)
          std::copy_n(src.begin() + (e * rows * cols + (rb * cbs + cb) * 256), 256,
                      dst.begin() + (e * rows * cols + (cb * rbs + rb) * 256));
    expect_unknown(t, "column-block-major tile grid");
  }
  {  // rows permuted at random inside each expert (unshuffled)
    const DumpSpec plain{spec.kind, spec.tp, true, Shuffle::none, {}, Form::natural};
    const Tensor p = testing::build_dump(plain, checkpoint);
    std::vector<std::int64_t> perm(static_cast<std::size_t>(rows));
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(1);
    std::shuffle(perm.begin(), perm.end(), rng);
    Tensor t(DType::U8, p.shape());
    for (std::int64_t e = 0; e < p.dim(0); ++e)
      for (std::int64_t r = 0; r < rows; ++r)
        std::copy_n(p.as<std::uint8_t>().begin() + (e * rows + perm[static_cast<std::size_t>(r)]) * cols, cols,
                    t.as_mut<std::uint8_t>().begin() + (e * rows + r) * cols);
    expect_unknown(t, "rows permuted");
  }
  {  // a size no chain produces
    const Tensor odd(DType::U8, {2, 1000, 1536});
    const Diagnosis r = diagnose_weights({spec.kind, checkpoint, odd, {}, "c", "d"});
    EXPECT_EQ(r.verdict, Verdict::unknown);
    EXPECT_FALSE(r.chain);
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_NE(r.notes[0].find("no chain the layout library builds"), std::string::npos) << r.notes[0];
    EXPECT_NE(r.notes[0].find("tp=1: [E'≤2, 6144, 1536]"), std::string::npos) << r.notes[0];
  }
}

// A restriction that is wrong (a sidecar from another configuration) does not hide the answer: the
// search drops it, finds the chain, and says so.
TEST(WeightsLocalization, WrongTpRestrictionIsDroppedAndSaid) {
  const Tensor checkpoint = random_checkpoint(ExpertTensor::down_proj_blocks, 2, 2880, 2880, 8);
  const DumpSpec spec{ExpertTensor::down_proj_blocks, TpRank{4, 2}, false, Shuffle::separated, {}, Form::natural};
  const Diagnosis r = diagnose_weights(
      {spec.kind, checkpoint, testing::build_dump(spec, checkpoint), SpaceLimits{8, std::nullopt}, "c", "d"});
  ASSERT_EQ(r.verdict, Verdict::exact);
  EXPECT_EQ(describe_ranks(r.chain->slice), "tp=4, rank=2");
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("no chain with tp=8 matches"), std::string::npos) << r.notes[0];
}

}  // namespace
}  // namespace mxg::diagnose::weights
