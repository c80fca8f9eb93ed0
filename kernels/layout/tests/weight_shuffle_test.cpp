// Weight tile shuffles (LAYOUTS.md §6) against AITER's own description of them: the view/permute
// of shuffle_weight written out as nested loops over the permuted dimensions (never the offset
// formula of index_maps.hpp), on small and GPT-OSS TP 1/2/4/8 shapes; plus round trips and errors.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/tests/byte_trace.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::layout {
namespace {

using testing::same_codes;
using testing::trace_codes;

std::uint32_t code(const ExpertRows& g, std::int64_t e, std::int64_t r, std::int64_t b) {
  return static_cast<std::uint32_t>((e * g.rows + r) * g.row_bytes + b + 1);
}

// AITER separated (is_guinterleave = false, uint8, layout 16x16): x.view(E, N/16, 16, Kb/32, 2, 16)
// .permute(0, 1, 3, 4, 2, 5). Output element order = the permuted dims, outermost first.
std::vector<std::uint32_t> aiter_separated(const ExpertRows& g) {
  std::vector<std::uint32_t> out;
  for (std::int64_t e = 0; e < g.experts; ++e)
    for (std::int64_t n0 = 0; n0 < g.rows / 16; ++n0)
      for (std::int64_t k0 = 0; k0 < g.row_bytes / 32; ++k0)
        for (std::int64_t k1 = 0; k1 < 2; ++k1)
          for (std::int64_t n1 = 0; n1 < 16; ++n1)
            for (std::int64_t k2 = 0; k2 < 16; ++k2) out.push_back(code(g, e, n0 * 16 + n1, k0 * 32 + k1 * 16 + k2));
  return out;
}

// AITER interleaved (is_guinterleave = true, NLane 16, KLane 4, KPack 16).
// gate_up: x.view(E, 2, N/2/16, 16, Kb/64, 4, 16).permute(0, 2, 1, 4, 5, 3, 6)
// else:    x.view(E, N/16, 16, Kb/64, 4, 16).permute(0, 1, 3, 4, 2, 5)
std::vector<std::uint32_t> aiter_interleaved(const ExpertRows& g, bool gate_up) {
  std::vector<std::uint32_t> out;
  const std::int64_t halves = gate_up ? 2 : 1;
  const std::int64_t n0_count = g.rows / halves / 16;
  for (std::int64_t e = 0; e < g.experts; ++e)
    for (std::int64_t n0 = 0; n0 < n0_count; ++n0)
      for (std::int64_t h = 0; h < halves; ++h)
        for (std::int64_t k0 = 0; k0 < g.row_bytes / 64; ++k0)
          for (std::int64_t kl = 0; kl < 4; ++kl)
            for (std::int64_t nl = 0; nl < 16; ++nl)
              for (std::int64_t kp = 0; kp < 16; ++kp) {
                const std::int64_t row = h * (g.rows / 2) + n0 * 16 + nl;  // h = 0 when not gate_up
                out.push_back(code(g, e, row, k0 * 64 + kl * 16 + kp));
              }
  return out;
}

std::vector<std::uint32_t> shuffled_codes(const ExpertRows& g, ShuffleOptions how) {
  const auto n = static_cast<std::size_t>(g.total_bytes());
  return trace_codes(n, n, [&](auto in, auto out) { shuffle_weight(in, out, g, how, "w", Threads{1}); });
}

// Small shapes, odd expert counts, and the GPT-OSS w13 [2*I_p, H_p/2] / w2 [H_p, I_p/2] of every tp.
std::vector<ExpertRows> shapes() {
  std::vector<ExpertRows> s = {{1, 32, 64}, {3, 64, 128}, {2, 96, 192}, {1, 32, 1024}};
  for (std::int64_t ip : testing::kGptOssIp) {
    s.push_back({1, 2 * ip, testing::kGptOssHp / 2});  // w13
    s.push_back({1, testing::kGptOssHp, ip / 2});      // w2
  }
  return s;
}

std::string name(const ExpertRows& g) { return fmt::format("[{}, {}, {}]", g.experts, g.rows, g.row_bytes); }

TEST(WeightShuffle, SeparatedMatchesAiterViewPermute) {
  for (const auto& g : shapes()) {
    for (bool gate_up : {false, true}) {  // separated ignores gate_up
      EXPECT_TRUE(same_codes(shuffled_codes(g, {TileMode::separated, gate_up}), aiter_separated(g))) << name(g);
    }
  }
  // Kb % 32 but not % 64: only the separated shuffle accepts it.
  const ExpertRows odd{2, 48, 96};
  EXPECT_TRUE(same_codes(shuffled_codes(odd, {TileMode::separated, false}), aiter_separated(odd)));
}

TEST(WeightShuffle, InterleavedMatchesAiterViewPermute) {
  for (const auto& g : shapes()) {
    EXPECT_TRUE(same_codes(shuffled_codes(g, {TileMode::interleaved, true}), aiter_interleaved(g, true))) << name(g);
    EXPECT_TRUE(same_codes(shuffled_codes(g, {TileMode::interleaved, false}), aiter_interleaved(g, false)))
        << name(g);
  }
}

TEST(WeightShuffle, InterleavedWithoutGateUpIsByteIdenticalToSeparated) {
  const ExpertRows g{3, 64, 256};
  EXPECT_EQ(shuffled_codes(g, {TileMode::interleaved, false}), shuffled_codes(g, {TileMode::separated, false}));
}

TEST(WeightShuffle, InverseRestoresEveryByteInEveryMode) {
  for (const auto& g : shapes()) {
    const auto n = static_cast<std::size_t>(g.total_bytes());
    const auto x = testing::random_bytes(n, static_cast<std::uint64_t>(g.rows * 131 + g.row_bytes));
    for (ShuffleOptions how : {ShuffleOptions{TileMode::separated, false}, ShuffleOptions{TileMode::interleaved, true},
                               ShuffleOptions{TileMode::interleaved, false}}) {
      std::vector<std::byte> tiled(n), back(n);
      shuffle_weight(x, tiled, g, how, "w");
      unshuffle_weight(tiled, back, g, how, "w");
      EXPECT_EQ(back, x) << name(g) << " " << tile_mode_name(how.mode) << " gate_up=" << how.gate_up;
      EXPECT_NE(tiled, x) << name(g);  // random bytes: a shuffle that moved nothing would pass the round trip
    }
  }
}

TEST(WeightShuffle, BijectionOnEveryByte) {
  for (const auto& g : {ExpertRows{2, 64, 128}, ExpertRows{1, 96, 64}}) {
    const auto codes = shuffled_codes(g, {TileMode::interleaved, true});
    EXPECT_TRUE(testing::is_bijection(codes, static_cast<std::size_t>(g.total_bytes()), 0)) << name(g);
  }
}

TEST(WeightShuffle, TensorWrapperKeepsShapeAndThreadsAgree) {
  // Checkpoint blocks [E, rows, K/32, 16] are read as [E, rows, K/2] and keep their 4-D shape.
  const Tensor blocks = testing::random_tensor(DType::U8, {4, 256, 96, 16}, 5);  // 6 MiB: threads engage
  const ShuffleOptions how{TileMode::interleaved, true};
  const Tensor one = shuffle_weight(blocks, how, std::nullopt, "w13", Threads{1});
  const Tensor many = shuffle_weight(blocks, how, std::nullopt, "w13", Threads{4});
  EXPECT_EQ(one.shape(), blocks.shape());
  EXPECT_TRUE(one.same_bytes(many));
  EXPECT_TRUE(unshuffle_weight(one, how, std::nullopt, "w13").same_bytes(blocks));
  // A 2-D weight is one matrix unless the expert count splits it.
  const Tensor flat = blocks.reshaped({4 * 256, 96 * 16});
  EXPECT_TRUE(shuffle_weight(flat, how, 4, "w13").reshaped(blocks.shape()).same_bytes(one));
  EXPECT_FALSE(shuffle_weight(flat, how, std::nullopt, "w13").reshaped(blocks.shape()).same_bytes(one));
}

std::string error_of(const Shape& shape, ShuffleOptions how, DType dtype = DType::U8) {
  try {
    shuffle_weight(Tensor(dtype, shape), how, std::nullopt, "w13");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(WeightShuffle, ShapePreconditionsNameDimensionValueAndMultiple) {
  EXPECT_EQ(error_of({1, 5762, 32}, {TileMode::separated, false}),
            "w13: rows = 5762 is not a multiple of 16 (separated-tiles shuffle needs rows % 16 == 0)");
  EXPECT_EQ(error_of({1, 32, 1448}, {TileMode::separated, false}),
            "w13: row bytes = 1448 is not a multiple of 32 (separated-tiles shuffle needs row bytes % 32 == 0)");
  // The unpadded GPT-OSS w13 (H/2 = 1440 bytes) fits separated tiles but not interleaved ones.
  EXPECT_EQ(error_of({1, 32, 1440}, {TileMode::separated, false}), "no error");
  EXPECT_EQ(error_of({1, 32, 1440}, {TileMode::interleaved, false}),
            "w13: row bytes = 1440 is not a multiple of 64 (interleaved-tiles shuffle needs row bytes % 64 == 0)");
  EXPECT_EQ(error_of({1, 48, 64}, {TileMode::interleaved, true}),
            "w13: rows = 48 is not a multiple of 32 (interleaved-tiles shuffle with gate_up needs rows % 32 == 0)");
  EXPECT_EQ(error_of({1, 32, 64}, {TileMode::separated, false}, DType::BF16),
            "w13: dtype = BF16 but a weight shuffle moves bytes of packed MXFP4 / E8M0 data (U8 or I8)");
  EXPECT_EQ(error_of({1, 48, 64}, {TileMode::interleaved, false}), "no error");
}

}  // namespace
}  // namespace mxg::layout
