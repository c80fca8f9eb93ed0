// apply_transform: every named transform and its --inverse round-trip through the one entry
// point the CLI uses, with the option errors it reports.
#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/tests/byte_trace.hpp"
#include "kernels/layout/transform.hpp"

namespace mxg::layout {
namespace {

TEST(Transform, NamesRoundTrip) {
  for (auto t : {Transform::deinterleave, Transform::interleave, Transform::shuffle_weight, Transform::shuffle_scale,
                 Transform::tp_slice}) {
    EXPECT_EQ(parse_transform(transform_name(t)), t);
  }
  EXPECT_EQ(parse_transform("shuffle_weight"), std::nullopt);
}

TEST(Transform, EachInverseUndoesItsTransform) {
  struct Case {
    Transform t;
    ShuffleOptions how;
    Shape shape;
    std::optional<std::int64_t> experts;
  };
  const Case cases[] = {
      {Transform::deinterleave, {}, {3, 64, 4, 16}, {}},
      {Transform::interleave, {}, {3 * 64, 12}, 3},
      {Transform::shuffle_weight, {TileMode::separated, false}, {2, 64, 96}, {}},
      {Transform::shuffle_weight, {TileMode::interleaved, true}, {2, 64, 4, 16}, {}},
      {Transform::shuffle_scale, {TileMode::separated, false}, {3, 40, 5}, {}},
      {Transform::shuffle_scale, {TileMode::interleaved, true}, {2 * 64, 6}, 2},
  };
  for (const auto& c : cases) {
    TransformSpec fwd;
    fwd.transform = c.t;
    fwd.shuffle = c.how;
    fwd.experts = c.experts;
    const Tensor x = testing::random_tensor(DType::U8, c.shape, 21);
    const Tensor y = apply_transform(fwd, x, "t", "t");
    EXPECT_FALSE(y.same_bytes(x));
    TransformSpec inv = fwd;
    inv.inverse = true;
    if (c.t == Transform::shuffle_scale) {  // the inverse needs the unpadded geometry
      const Shape& s = c.shape;
      inv.experts = s.size() == 3 ? s[0] : *c.experts;
      inv.original_rows = s.size() == 3 ? s[1] : s[0] / *c.experts;
      inv.original_cols = s.back();
    }
    const Tensor back = apply_transform(inv, y, "t", "t");
    EXPECT_EQ(back.nbytes(), x.nbytes()) << transform_name(c.t);
    EXPECT_TRUE(std::equal(back.bytes().begin(), back.bytes().end(), x.bytes().begin())) << transform_name(c.t);
  }
}

TEST(Transform, TpSliceKindFromNameOrOption) {
  TransformSpec s;
  s.transform = Transform::tp_slice;
  s.tp = 2;
  s.rank = 0;
  const Tensor w = testing::random_tensor(DType::U8, {1, 128, 32}, 1);  // I = 64, H = 64
  EXPECT_EQ(apply_transform(s, w, "layers.0.mlp.experts.gate_up_proj_blocks", "t").shape(), (Shape{1, 512, 128}));
  EXPECT_THROW(apply_transform(s, w, "w13", "t"), InputError);
  s.kind = ExpertTensor::down_proj_blocks;  // the same bytes read as w2: H = 128, I = 64
  EXPECT_EQ(apply_transform(s, w, "w13", "t").shape(), (Shape{1, 256, 128}));
  s.inverse = true;
  EXPECT_THROW(apply_transform(s, w, "w13", "t"), InputError);
}

TEST(Transform, ScaleInverseNeedsOriginalGeometry) {
  TransformSpec s;
  s.transform = Transform::shuffle_scale;
  s.inverse = true;
  try {
    apply_transform(s, Tensor(DType::U8, {256, 8}), "s", "in.st: s");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "in.st: s: the inverse scale shuffle needs the unpadded geometry: --rows (per expert) and --cols");
  }
}

}  // namespace
}  // namespace mxg::layout
