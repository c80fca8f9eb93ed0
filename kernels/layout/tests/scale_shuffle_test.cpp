// E8M0 scale shuffles (LAYOUTS.md §7) against AITER's shuffle_scale written as nested loops over
// its view/permute (never the offset formula of index_maps.hpp): padding rule and fill, both tile
// modes, GPT-OSS TP 1/2/4/8 scale shapes, inverses and errors.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/tests/byte_trace.hpp"

namespace mxg::layout {
namespace {

using testing::kScalePadCode;
using testing::same_codes;
using testing::trace_codes;

std::int64_t up_to(std::int64_t x, std::int64_t m) {
  while (x % m != 0) ++x;
  return x;
}

// Code of stacked element (row, col) of the unpadded [E*rows, cols] matrix, or the pad code.
std::uint32_t code(const ExpertRows& g, std::int64_t stacked_row, std::int64_t col) {
  if (stacked_row >= g.experts * g.rows || col >= g.row_bytes) return kScalePadCode;
  return static_cast<std::uint32_t>(stacked_row * g.row_bytes + col + 1);
}

// AITER separated: pad to [round_up(M, 256), round_up(n, 8)], then
// view(sm/32, 2, 16, sn/8, 2, 4).permute(0, 3, 5, 2, 4, 1).
std::vector<std::uint32_t> aiter_separated(const ExpertRows& g) {
  const std::int64_t sm = up_to(g.experts * g.rows, 256), sn = up_to(g.row_bytes, 8);
  std::vector<std::uint32_t> out;
  for (std::int64_t a = 0; a < sm / 32; ++a)
    for (std::int64_t d = 0; d < sn / 8; ++d)
      for (std::int64_t f = 0; f < 4; ++f)
        for (std::int64_t c = 0; c < 16; ++c)
          for (std::int64_t e = 0; e < 2; ++e)
            for (std::int64_t b = 0; b < 2; ++b) out.push_back(code(g, a * 32 + b * 16 + c, d * 8 + e * 4 + f));
  return out;
}

// AITER interleaved on [E*n, k] (k padded to 8 first, as mxguard does; AITER needs k % 8 == 0):
// gate_up: view(E, 2, n/32, 16, k/8, 2, 4).permute(0, 2, 4, 6, 3, 5, 1)
// else:    view(E, n/32, 2, 16, k/8, 2, 4).permute(0, 1, 4, 6, 3, 5, 2)
std::vector<std::uint32_t> aiter_interleaved(const ExpertRows& g, bool gate_up) {
  const std::int64_t k = up_to(g.row_bytes, 8), n1_count = g.rows / 32;
  std::vector<std::uint32_t> out;
  for (std::int64_t e = 0; e < g.experts; ++e)
    for (std::int64_t n1 = 0; n1 < n1_count; ++n1)
      for (std::int64_t k1 = 0; k1 < k / 8; ++k1)
        for (std::int64_t kl = 0; kl < 4; ++kl)
          for (std::int64_t nl = 0; nl < 16; ++nl)
            for (std::int64_t kp = 0; kp < 2; ++kp)
              for (std::int64_t np = 0; np < 2; ++np) {
                const std::int64_t row = gate_up ? np * (n1_count * 16) + n1 * 16 + nl : n1 * 32 + np * 16 + nl;
                out.push_back(code(g, e * g.rows + row, k1 * 8 + kp * 4 + kl));
              }
  return out;
}

std::vector<std::uint32_t> shuffled_codes(const ExpertRows& g, ShuffleOptions how) {
  const ScaleShuffleGeometry m = scale_shuffle_geometry(g, how);
  return trace_codes(static_cast<std::size_t>(g.total_bytes()),
                     static_cast<std::size_t>(m.padded_rows() * m.padded_cols()),
                     [&](auto in, auto out) { shuffle_scale(in, out, g, how, "s", Threads{1}); });
}

std::string name(const ExpertRows& g) { return fmt::format("[{} x {}, {}]", g.experts, g.rows, g.row_bytes); }

// GPT-OSS scales: w13 [E, 2*I_p, H_p/32 = 96], w2 [E, H_p, I_p/32 = 96/48/24/16], two experts.
std::vector<ExpertRows> gpt_oss_shapes() {
  std::vector<ExpertRows> s;
  for (std::int64_t ip : testing::kGptOssIp) {
    s.push_back({2, 2 * ip, testing::kGptOssHp / 32});
    s.push_back({2, testing::kGptOssHp, ip / 32});
  }
  return s;
}

TEST(ScaleShuffle, SeparatedMatchesAiterIncludingPadding) {
  std::vector<ExpertRows> s = gpt_oss_shapes();
  s.insert(s.end(), {{1, 1, 1}, {3, 40, 5}, {2, 5760, 90}, {1, 256, 8}, {5, 17, 13}});
  for (const auto& g : s) {
    for (bool gate_up : {false, true}) {  // separated ignores gate_up
      EXPECT_TRUE(same_codes(shuffled_codes(g, {TileMode::separated, gate_up}), aiter_separated(g))) << name(g);
    }
  }
}

TEST(ScaleShuffle, InterleavedMatchesAiterPerExpert) {
  std::vector<ExpertRows> s = gpt_oss_shapes();
  s.insert(s.end(), {{1, 32, 8}, {3, 64, 5}, {2, 96, 12}});
  for (const auto& g : s) {
    EXPECT_TRUE(same_codes(shuffled_codes(g, {TileMode::interleaved, true}), aiter_interleaved(g, true))) << name(g);
    EXPECT_TRUE(same_codes(shuffled_codes(g, {TileMode::interleaved, false}), aiter_interleaved(g, false)))
        << name(g);
  }
}

TEST(ScaleShuffle, PaddingShapesFollowTheRule) {
  const ExpertRows g{3, 40, 5};  // 120 stacked rows, 5 cols
  const auto sep = scale_shuffle_geometry(g, {TileMode::separated, false});
  EXPECT_EQ(sep.padded_rows(), 256);
  EXPECT_EQ(sep.padded_cols(), 8);
  const ExpertRows h{3, 64, 5};
  const auto il = scale_shuffle_geometry(h, {TileMode::interleaved, true});
  EXPECT_EQ(il.padded_rows(), 3 * 64);  // rows are not padded
  EXPECT_EQ(il.padded_cols(), 8);
  // Every byte beyond the data is the 0x7F fill, and there are exactly padded - real of them.
  const auto codes = shuffled_codes(g, {TileMode::separated, false});
  EXPECT_TRUE(testing::is_bijection(codes, 600, kScalePadCode));
  EXPECT_EQ(std::count(codes.begin(), codes.end(), kScalePadCode), 256 * 8 - 600);
}

TEST(ScaleShuffle, InverseStripsPaddingAndRestoresEveryByte) {
  std::vector<ExpertRows> s = gpt_oss_shapes();
  s.insert(s.end(), {{3, 64, 5}, {2, 32, 8}});
  for (const auto& g : s) {
    for (ShuffleOptions how : {ShuffleOptions{TileMode::separated, false}, ShuffleOptions{TileMode::interleaved, true},
                               ShuffleOptions{TileMode::interleaved, false}}) {
      const Tensor x = testing::random_tensor(DType::U8, {g.experts, g.rows, g.row_bytes}, 11);
      const Tensor tiled = shuffle_scale(x, how, std::nullopt, "s");
      const ScaleShuffleGeometry m = scale_shuffle_geometry(g, how);
      EXPECT_EQ(tiled.shape(), (Shape{m.padded_rows(), m.padded_cols()}));
      const Tensor back = unshuffle_scale(tiled, how, g, "s");
      EXPECT_TRUE(back.same_bytes(x.reshaped({g.experts * g.rows, g.row_bytes}))) << name(g);
    }
  }
}

TEST(ScaleShuffle, StackedTwoDInputNeedsExpertsOnlyWhereTheyMatter) {
  const Tensor x = testing::random_tensor(DType::U8, {4 * 64, 12}, 2);
  const Tensor as3d = x.reshaped({4, 64, 12});
  const ShuffleOptions gu{TileMode::interleaved, true};
  EXPECT_TRUE(shuffle_scale(x, gu, 4, "s").same_bytes(shuffle_scale(as3d, gu, std::nullopt, "s")));
  EXPECT_THROW(shuffle_scale(x, gu, std::nullopt, "s"), InputError);
  const ShuffleOptions sep{TileMode::separated, false};
  EXPECT_TRUE(shuffle_scale(x, sep, std::nullopt, "s").same_bytes(shuffle_scale(as3d, sep, std::nullopt, "s")));
}

TEST(ScaleShuffle, ThreadCountDoesNotChangeResult) {
  const Tensor x = testing::random_tensor(DType::U8, {16, 1024, 96}, 4);  // 1.5 MiB
  for (ShuffleOptions how : {ShuffleOptions{TileMode::separated, false}, ShuffleOptions{TileMode::interleaved, true}}) {
    EXPECT_TRUE(shuffle_scale(x, how, std::nullopt, "s", Threads{1})
                    .same_bytes(shuffle_scale(x, how, std::nullopt, "s", Threads{4})));
  }
}

TEST(ScaleShuffle, ErrorsNameDimensionAndValue) {
  auto error_of = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of([] { shuffle_scale(Tensor(DType::U8, {2, 48, 8}), {TileMode::interleaved, true}, {}, "w13s"); }),
            "w13s: rows = 48 is not a multiple of 32 (interleaved scale shuffle with gate_up needs rows % 32 == 0)");
  EXPECT_EQ(error_of([] { shuffle_scale(Tensor(DType::U8, {2, 40, 8}), {TileMode::interleaved, false}, {}, "s"); }),
            "s: rows = 40 is not a multiple of 32 (interleaved scale shuffle needs rows % 32 == 0)");
  EXPECT_EQ(error_of([] { shuffle_scale(Tensor(DType::U8, {2, 40, 8}), {TileMode::separated, false}, {}, "s"); }),
            "no error");
  EXPECT_EQ(error_of([] {
              unshuffle_scale(Tensor(DType::U8, {256, 16}), {TileMode::separated, false}, ExpertRows{2, 40, 5}, "s");
            }),
            "s: shape [256, 16] is not the separated scale shuffle of 2 experts x 40 rows x 5 cols, which is "
            "[256, 8]");
  EXPECT_THROW(shuffle_scale(Tensor(DType::F32, {32, 8}), {}, {}, "s"), InputError);
  EXPECT_THROW(shuffle_scale(Tensor(DType::U8, {2, 32, 8, 1}), {}, {}, "s"), InputError);
}

}  // namespace
}  // namespace mxg::layout
