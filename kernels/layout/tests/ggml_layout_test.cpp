// The ggml converter steps one by one: expected layouts written from the prose of
// conversion/gpt_oss.py and ggml's block_mxfp4 (not from the formulas under test), exact inverses,
// and the input errors.
#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/ggml_layout.hpp"
#include "kernels/layout/ggml_prep.hpp"
#include "kernels/layout/tests/byte_trace.hpp"

namespace mxg::layout::ggml {
namespace {

using layout::testing::random_tensor;

// ---- nibble transform ------------------------------------------------------------------------

TEST(GgmlNibbles, ByteJHoldsElementJLowAndElementJPlus16High) {
  // 3 blocks of 32 element codes, packed the checkpoint's way: element 2i low, 2i+1 high in byte i.
  SplitMix64 rng{5};
  std::vector<std::uint8_t> codes(3 * 32);
  for (auto& c : codes) c = static_cast<std::uint8_t>(rng.next() & 0xF);
  Tensor packed(DType::U8, {3, 16});
  auto p = packed.as_mut<std::uint8_t>();
  for (std::size_t b = 0; b < 3; ++b) {
    for (std::size_t i = 0; i < 16; ++i) {
      p[b * 16 + i] = static_cast<std::uint8_t>(codes[b * 32 + 2 * i] | codes[b * 32 + 2 * i + 1] << 4);
    }
  }
  const Tensor out = to_ggml_nibbles(packed, "blocks");
  ASSERT_EQ(out.shape(), packed.shape());
  const auto o = out.as<std::uint8_t>();
  for (std::size_t b = 0; b < 3; ++b) {
    for (std::size_t j = 0; j < 16; ++j) {
      EXPECT_EQ(o[b * 16 + j] & 0xF, codes[b * 32 + j]) << "block " << b << " byte " << j;
      EXPECT_EQ(o[b * 16 + j] >> 4, codes[b * 32 + j + 16]) << "block " << b << " byte " << j;
    }
  }
}

TEST(GgmlNibbles, InverseRestoresEveryByteAndTheTransformIsNotTheIdentity) {
  for (const Shape& shape : {Shape{1, 16}, Shape{2, 6, 3, 16}, Shape{4, 40, 90, 16}}) {
    const Tensor x = random_tensor(DType::U8, shape, 11);
    const Tensor y = to_ggml_nibbles(x, "blocks", Threads{2});
    EXPECT_FALSE(y.same_bytes(x));
    EXPECT_TRUE(to_checkpoint_nibbles(y, "blocks").same_bytes(x));
    EXPECT_TRUE(to_ggml_nibbles(to_checkpoint_nibbles(x, "blocks"), "blocks").same_bytes(x));
  }
}

TEST(GgmlNibbles, ThreadCountDoesNotChangeResult) {
  const Tensor x = random_tensor(DType::U8, {8, 256, 64, 16}, 3);  // 2 MiB: the parallel path
  EXPECT_TRUE(to_ggml_nibbles(x, "b", Threads{1}).same_bytes(to_ggml_nibbles(x, "b", Threads{3})));
}

TEST(GgmlNibbles, ShapeWithoutSixteenByteGroupsIsAnInputError) {
  try {
    to_ggml_nibbles(Tensor(DType::U8, {2, 8, 90}), "ckpt.safetensors: gate_up_blocks");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "ckpt.safetensors: gate_up_blocks: shape [2, 8, 90] must end in 16 code bytes per 32-element block "
                 "(the nibble transform)");
  }
  EXPECT_THROW(to_ggml_nibbles(Tensor(DType::F32, {2, 16}), "x"), InputError);
}

// ---- block packing ---------------------------------------------------------------------------

TEST(GgmlPack, EachBlockIsItsScaleByteThenItsSixteenCodeBytes) {
  const Tensor codes = random_tensor(DType::U8, {2, 3, 4, 16}, 1);
  const Tensor scales = random_tensor(DType::U8, {2, 3, 4}, 2);
  const Tensor packed = pack_blocks(codes, scales, "w");
  ASSERT_EQ(packed.shape(), (Shape{2, 3, 4 * 17}));
  const auto p = packed.as<std::uint8_t>();
  const auto c = codes.as<std::uint8_t>();
  const auto s = scales.as<std::uint8_t>();
  for (std::size_t e = 0; e < 2; ++e) {
    for (std::size_t r = 0; r < 3; ++r) {
      for (std::size_t b = 0; b < 4; ++b) {
        const std::size_t row = e * 3 + r;
        EXPECT_EQ(p[row * 68 + b * 17], s[row * 4 + b]);
        for (std::size_t j = 0; j < 16; ++j) EXPECT_EQ(p[row * 68 + b * 17 + 1 + j], c[(row * 4 + b) * 16 + j]);
      }
    }
  }
  const BlockParts back = unpack_blocks(packed, "w");
  EXPECT_TRUE(back.codes.same_bytes(codes));
  EXPECT_TRUE(back.scales.same_bytes(scales));
  EXPECT_EQ(back.codes.shape(), codes.shape());
  EXPECT_EQ(back.scales.shape(), scales.shape());
  const Tensor any = random_tensor(DType::U8, {3, 5, 2 * 17}, 4);  // unpack is a bijection too
  const BlockParts parts = unpack_blocks(any, "w");
  EXPECT_TRUE(pack_blocks(parts.codes, parts.scales, "w").same_bytes(any));
}

TEST(GgmlPack, MismatchedScalesAndPartialBlocksAreInputErrors) {
  try {
    pack_blocks(Tensor(DType::U8, {2, 3, 4, 16}), Tensor(DType::U8, {2, 3, 5}), "w13");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "w13: scales shape [2, 3, 5] does not match codes [2, 3, 4, 16]: expected [2, 3, 4]");
  }
  EXPECT_THROW(pack_blocks(Tensor(DType::U8, {2, 3, 64}), Tensor(DType::U8, {2, 3, 4}), "w"), InputError);
  try {
    unpack_blocks(Tensor(DType::U8, {2, 3, 35}), "gate");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "gate: shape [2, 3, 35] must be [E, rows, K/32 * 17]");
  }
}

// ---- gate/up split ---------------------------------------------------------------------------

// Row numbers in every byte: the tensor's row r (of expert e) is filled with e * 100 + r.
Tensor numbered_rows(std::int64_t experts, std::int64_t rows, std::int64_t row_bytes) {
  Tensor t(DType::U8, {experts, rows, row_bytes});
  auto b = t.as_mut<std::uint8_t>();
  for (std::int64_t e = 0; e < experts; ++e) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < row_bytes; ++c) b[(e * rows + r) * row_bytes + c] = static_cast<std::uint8_t>(e * 100 + r);
    }
  }
  return t;
}

std::vector<int> row_numbers(const Tensor& t) {
  std::vector<int> out;
  const auto b = t.as<std::uint8_t>();
  const std::int64_t row_bytes = t.dim(2);
  for (std::size_t i = 0; i < b.size(); i += static_cast<std::size_t>(row_bytes)) out.push_back(b[i]);
  return out;
}

TEST(GgmlSplit, EachSplitTakesTheRowsItsNameSays) {
  const Tensor t = numbered_rows(2, 8, 3);  // 2 experts, 2I = 8
  const GateUpPair right = split_gate_up(t, GateUpSplit::right, "w");
  EXPECT_EQ(row_numbers(right.gate), (std::vector<int>{0, 2, 4, 6, 100, 102, 104, 106}));
  EXPECT_EQ(row_numbers(right.up), (std::vector<int>{1, 3, 5, 7, 101, 103, 105, 107}));
  const GateUpPair swapped = split_gate_up(t, GateUpSplit::swapped, "w");
  EXPECT_EQ(row_numbers(swapped.gate), (std::vector<int>{1, 3, 5, 7, 101, 103, 105, 107}));
  EXPECT_EQ(row_numbers(swapped.up), (std::vector<int>{0, 2, 4, 6, 100, 102, 104, 106}));
  const GateUpPair halves = split_gate_up(t, GateUpSplit::halves, "w");
  EXPECT_EQ(row_numbers(halves.gate), (std::vector<int>{0, 1, 2, 3, 100, 101, 102, 103}));
  EXPECT_EQ(row_numbers(halves.up), (std::vector<int>{4, 5, 6, 7, 104, 105, 106, 107}));
  EXPECT_EQ(right.gate.shape(), (Shape{2, 4, 3}));
}

TEST(GgmlSplit, JoinUndoesSplitForEverySplitWeightsScalesBiases) {
  const Tensor blocks = random_tensor(DType::U8, {3, 12, 2, 16}, 1);
  const Tensor scales = random_tensor(DType::U8, {3, 12, 2}, 2);
  const Tensor bias = Tensor::from_f32(std::vector<float>{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15}, {2, 6});
  for (GateUpSplit s : {GateUpSplit::right, GateUpSplit::swapped, GateUpSplit::halves}) {
    for (const Tensor* t : {&blocks, &scales, &bias}) {
      const GateUpPair p = split_gate_up(*t, s, "t");
      const Tensor back = join_gate_up(p, s, "t");
      EXPECT_EQ(back.shape(), t->shape());
      EXPECT_EQ(back.dtype(), t->dtype());
      EXPECT_TRUE(back.same_bytes(*t)) << to_string(s);
      // and the other way: split(join(p)) == p
      const GateUpPair again = split_gate_up(join_gate_up(p, s, "t"), s, "t");
      EXPECT_TRUE(again.gate.same_bytes(p.gate) && again.up.same_bytes(p.up));
    }
  }
  const GateUpPair b = split_gate_up(bias, GateUpSplit::right, "bias");  // F32 elements move whole
  EXPECT_EQ(b.gate.to_f32(), (std::vector<float>{0, 2, 4, 10, 12, 14}));
  EXPECT_EQ(b.up.to_f32(), (std::vector<float>{1, 3, 5, 11, 13, 15}));
}

TEST(GgmlSplit, MergedIsGateRowsThenUpRowsAndUnmergeInvertsIt) {
  const Tensor t = numbered_rows(2, 8, 5);
  const GateUpPair p = split_gate_up(t, GateUpSplit::right, "w");
  const Tensor merged = merge_gate_up(p, "w");
  EXPECT_EQ(row_numbers(merged), (std::vector<int>{0, 2, 4, 6, 1, 3, 5, 7, 100, 102, 104, 106, 101, 103, 105, 107}));
  const GateUpPair back = unmerge_gate_up(merged, "w");
  EXPECT_TRUE(back.gate.same_bytes(p.gate));
  EXPECT_TRUE(back.up.same_bytes(p.up));
}

TEST(GgmlSplit, OddRowsAndMismatchedHalvesAreInputErrors) {
  try {
    split_gate_up(Tensor(DType::U8, {2, 5, 3, 16}), GateUpSplit::right, "ckpt: gate_up_blocks");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "ckpt: gate_up_blocks: rows (dim 1) = 5 is not a multiple of 2 (the gate/up split needs rows (dim 1) "
                 "% 2 == 0)");
  }
  EXPECT_THROW(split_gate_up(Tensor(DType::U8, {4}), GateUpSplit::right, "x"), InputError);
  try {
    join_gate_up({Tensor(DType::U8, {2, 4, 17}), Tensor(DType::U8, {2, 3, 17})}, GateUpSplit::right, "w");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "w: gate is U8 [2, 4, 17] but up is U8 [2, 3, 17]: the halves must match");
  }
}

// ---- scale byte ------------------------------------------------------------------------------

TEST(GgmlScaleByte, RightKeepsHalvedSubtractsDoubledAddsOneWithUint8WrapAndUndoInverts) {
  Tensor all(DType::U8, {256});
  auto a = all.as_mut<std::uint8_t>();
  for (int i = 0; i < 256; ++i) a[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  EXPECT_TRUE(convert_scale_bytes(all, ScaleByte::right, "s").same_bytes(all));
  const auto halved = convert_scale_bytes(all, ScaleByte::halved, "s");
  const auto doubled = convert_scale_bytes(all, ScaleByte::doubled, "s");
  EXPECT_EQ(halved.as<std::uint8_t>()[127], 126);  // 1.0 -> 0.5
  EXPECT_EQ(halved.as<std::uint8_t>()[0], 255);
  EXPECT_EQ(doubled.as<std::uint8_t>()[127], 128);  // 1.0 -> 2.0
  EXPECT_EQ(doubled.as<std::uint8_t>()[255], 0);
  for (ScaleByte s : {ScaleByte::right, ScaleByte::halved, ScaleByte::doubled}) {
    EXPECT_TRUE(undo_scale_bytes(convert_scale_bytes(all, s, "s"), s, "s").same_bytes(all)) << to_string(s);
  }
  EXPECT_THROW(convert_scale_bytes(Tensor(DType::F32, {4}), ScaleByte::right, "s"), InputError);
}

// ---- biases ----------------------------------------------------------------------------------

TEST(GgmlBias, WidensBf16AndF16ExactlyAndRejectsIntegers) {
  const std::vector<float> v{1.5f, -2.25f, 0.0f, 1024.0f};
  for (DType d : {DType::F32, DType::BF16, DType::F16}) {
    const Tensor b = bias_to_f32(Tensor::from_f32(v, {2, 2}, d), "bias");
    EXPECT_EQ(b.dtype(), DType::F32);
    EXPECT_EQ(b.to_f32(), v);
  }
  try {
    bias_to_f32(Tensor(DType::I32, {2, 2}), "ckpt: down_bias");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "ckpt: down_bias: dtype = I32 but a bias must be F32, BF16 or F16");
  }
}

}  // namespace
}  // namespace mxg::layout::ggml
