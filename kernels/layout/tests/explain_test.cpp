// `layout explain` agrees with what apply_transform actually does: for every element of small
// tensors, the traced destination (and source) is where the data really moved, for every
// transform, both directions, padding and dropped elements included.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/explain.hpp"
#include "kernels/layout/tests/byte_trace.hpp"

namespace mxg::layout {
namespace {

std::int64_t flat(const Grid& g, const Coord& c) { return (c.expert * g.rows + c.row) * g.cols + c.col; }

struct Case {
  std::string name;
  TransformSpec spec;
  Shape shape;
  std::string tensor_name = "t";
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto spec = [](Transform t, bool inverse = false) {
    TransformSpec s;
    s.transform = t;
    s.inverse = inverse;
    return s;
  };
  c.push_back({"deinterleave", spec(Transform::deinterleave), {2, 8, 3}});
  c.push_back({"interleave", spec(Transform::interleave), {2, 8, 3}});
  c.push_back({"deinterleave --inverse", spec(Transform::deinterleave, true), {2, 8, 3}});
  {
    auto s = spec(Transform::deinterleave);
    s.experts = 2;
    c.push_back({"deinterleave stacked", s, {16, 3}});
  }
  c.push_back({"shuffle-weight separated", spec(Transform::shuffle_weight), {2, 32, 64}});
  for (bool inverse : {false, true}) {
    auto s = spec(Transform::shuffle_weight, inverse);
    s.shuffle = {TileMode::interleaved, true};
    c.push_back({fmt::format("shuffle-weight interleaved gate_up inverse={}", inverse), s, {2, 64, 128}});
  }
  c.push_back({"shuffle-scale separated", spec(Transform::shuffle_scale), {3, 40, 5}});
  {
    auto s = spec(Transform::shuffle_scale);
    s.shuffle = {TileMode::interleaved, true};
    c.push_back({"shuffle-scale interleaved gate_up", s, {2, 64, 5}});
  }
  {
    auto s = spec(Transform::shuffle_scale, true);
    s.experts = 3;
    s.original_rows = 40;
    s.original_cols = 5;
    c.push_back({"shuffle-scale separated --inverse", s, {256, 8}});
  }
  {
    auto s = spec(Transform::tp_slice);
    s.tp = 2;
    s.rank = 1;
    c.push_back({"tp-slice gate_up blocks", s, {1, 192, 2, 16}, "x.gate_up_proj_blocks"});
    c.push_back({"tp-slice down scales", s, {2, 64, 3}, "x.down_proj_scales"});
  }
  return c;
}

TEST(Explain, EveryElementTracesWhereApplyMovesIt) {
  for (const auto& k : cases()) {
    SCOPED_TRACE(k.name);
    const auto codes = testing::trace_tensor_codes(DType::U8, k.shape, [&](const Tensor& t) {
      return apply_transform(k.spec, t, k.tensor_name, "t");
    });
    const Explanation probe = explain_transform(k.spec, k.shape, k.tensor_name, {}, "t");
    const Grid in = probe.input, out = probe.output;
    ASSERT_EQ(static_cast<std::int64_t>(codes.size()), out.experts * out.rows * out.cols);
    ASSERT_EQ(shape_numel(k.shape), in.experts * in.rows * in.cols);
    std::int64_t landed = 0, sourced = 0;
    for (std::int64_t e = 0; e < std::max(in.experts, out.experts); ++e)
      for (std::int64_t r = 0; r < std::max(in.rows, out.rows); ++r)
        for (std::int64_t c = 0; c < std::max(in.cols, out.cols); ++c) {
          const Coord at{e, r, c};
          if (!in.contains(at) && !out.contains(at)) continue;
          const Explanation x = explain_transform(k.spec, k.shape, k.tensor_name, at, "t");
          if (in.contains(at) && x.lands.at) {
            ASSERT_EQ(codes[static_cast<std::size_t>(flat(out, *x.lands.at))], flat(in, at) + 1)
                << "input " << e << "," << r << "," << c << ": " << x.lands.detail;
            ++landed;
          }
          if (out.contains(at)) {
            const std::uint32_t got = codes[static_cast<std::size_t>(flat(out, at))];
            if (x.source.at) {
              ASSERT_EQ(got, flat(in, *x.source.at) + 1) << "output " << e << "," << r << "," << c;
              ++sourced;
            } else {
              ASSERT_TRUE(got == 0 || got == testing::kScalePadCode) << x.source.detail;
            }
          }
        }
    // One-to-one on the elements that are neither padding nor dropped by the rank slice.
    EXPECT_EQ(landed, sourced);
    if (k.spec.transform != Transform::tp_slice && k.spec.transform != Transform::shuffle_scale) {
      EXPECT_EQ(landed, in.experts * in.rows * in.cols);  // pure permutations drop nothing
    }
  }
}

TEST(Explain, DetailsNameTileBlockAndSlice) {
  TransformSpec s;
  s.transform = Transform::shuffle_weight;
  // Byte (row 17, col 35) of a [1, 32, 64] expert: tile row 1, tile col 2, row 1 byte 3 in it;
  // tile 1*4 + 2 = 6, offset 6*256 + 1*16 + 3 = 1555 = row 24, col 19 of the shuffled grid.
  const Explanation w = explain_transform(s, {1, 32, 64}, "w", {0, 17, 35}, "w");
  ASSERT_TRUE(w.lands.at);
  EXPECT_EQ(*w.lands.at, (Coord{0, 24, 19}));
  EXPECT_NE(w.lands.detail.find("tile 6 (tile row 1, tile col 2), row 1 byte 3 inside the tile; byte 1555"),
            std::string::npos)
      << w.lands.detail;

  s.transform = Transform::shuffle_scale;
  const Explanation sc = explain_transform(s, {1, 40, 5}, "s", {0, 255, 7}, "s");
  EXPECT_FALSE(sc.source.at);
  EXPECT_EQ(sc.source.detail.rfind("padding", 0), 0u) << sc.source.detail;

  s.transform = Transform::tp_slice;
  s.tp = 4;
  s.rank = 3;
  const Explanation tp = explain_transform(s, {1, 5760, 1440}, "m.gate_up_proj_blocks", {0, 10, 0}, "t");
  EXPECT_FALSE(tp.lands.at);
  EXPECT_NE(tp.lands.detail.find("not loaded on this rank: rank 3 loads intermediate units [2208, 2880)"),
            std::string::npos)
      << tp.lands.detail;
}

TEST(Explain, CoordinateOutsideBothGridsIsAnInputError) {
  TransformSpec s;
  EXPECT_THROW(explain_transform(s, {2, 8, 3}, "t", {2, 0, 0}, "t"), InputError);
  EXPECT_THROW(explain_transform(s, {2, 7, 3}, "t", {0, 0, 0}, "t"), InputError);  // odd rows
}

}  // namespace
}  // namespace mxg::layout
