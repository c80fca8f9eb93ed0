// Element maps of every layout transform between its canonical side (A) and its transformed
// side (B), for `layout explain`.
#include "kernels/layout/explain.hpp"

#include <memory>

#include <fmt/format.h>

#include "kernels/layout/geometry.hpp"
#include "kernels/layout/index_maps.hpp"
#include "kernels/layout/scale_shuffle.hpp"
#include "kernels/layout/weight_shuffle.hpp"

namespace mxg::layout {

namespace {

std::string coord_text(const Coord& c) { return fmt::format("expert {} row {} col {}", c.expert, c.row, c.col); }

// One transform's element correspondence. A is the side the forward transform reads.
class ElementMap {
 public:
  virtual ~ElementMap() = default;
  virtual Trace to_b(const Coord& c) const = 0;  // where A's element lands in B
  virtual Trace to_a(const Coord& c) const = 0;  // where B's element came from in A
  std::string name, b_note;
  Grid a, b;
};

// §5: A = checkpoint rows [g0,u0,...], B = [gate | up].
class RowMap final : public ElementMap {
 public:
  explicit RowMap(const ExpertRows& g) {
    name = "checkpoint rows [g0, u0, g1, u1, ...] <-> [gate | up] halves";
    a = b = {g.experts, g.rows, g.row_bytes};
  }
  Trace to_b(const Coord& c) const override {
    Coord out = c;
    out.row = deinterleave_row(c.row, a.rows);
    return {out, unit_text(c.row, out.row)};
  }
  Trace to_a(const Coord& c) const override {
    Coord out = c;
    out.row = interleave_row(c.row, a.rows);
    return {out, unit_text(out.row, c.row)};
  }

 private:
  static std::string unit_text(std::int64_t checkpoint_row, std::int64_t separated_row) {
    return fmt::format("{} unit {}: checkpoint row {}, [gate | up] row {}", checkpoint_row % 2 ? "up" : "gate",
                       checkpoint_row / 2, checkpoint_row, separated_row);
  }
};

// §6: A = plain [E, rows, bytes] ([gate | up] rows for w13), B = shuffled bytes read as the same grid.
class WeightMap final : public ElementMap {
 public:
  WeightMap(const ExpertRows& g, ShuffleOptions how) : how_(how) {
    name = fmt::format("{} tiles{}", tile_mode_name(how.mode), how.gate_up ? ", gate_up" : "");
    a = b = {g.experts, g.rows, g.row_bytes};
  }
  Trace to_b(const Coord& c) const override {
    const std::int64_t o = weight_shuffle_offset(c.row, c.col, a.rows, a.cols, how_.block_interleaves());
    return {Coord{c.expert, o / a.cols, o % a.cols}, tile_text(o, c.row)};
  }
  Trace to_a(const Coord& c) const override {
    const std::int64_t o = c.row * a.cols + c.col;
    const RowCol src = weight_shuffle_source(o, a.rows, a.cols, how_.block_interleaves());
    return {Coord{c.expert, src.row, src.col}, tile_text(o, src.row)};
  }

 private:
  std::string tile_text(std::int64_t offset, std::int64_t plain_row) const {
    const RowCol t = tile_shuffle_source(offset, a.cols);  // position in the tile formula's row order
    std::string s = fmt::format("tile {} (tile row {}, tile col {}), row {} byte {} inside the tile; byte {} of "
                                "the expert",
                                offset / kTileSize, t.row / kTileRows, t.col / kTileBytes, t.row % kTileRows,
                                t.col % kTileBytes, offset);
    if (how_.block_interleaves()) {
      const std::int64_t half = a.rows / 2;
      s += fmt::format("; {} row {} of [gate | up] is row {} after the 16-row gate/up block interleave",
                       plain_row < half ? "gate" : "up", plain_row % half, t.row);
    }
    return s;
  }
  ShuffleOptions how_;
};

// §7: A = unpadded [E, rows, cols], B = the padded 2-D output as one grid.
class ScaleMap final : public ElementMap {
 public:
  ScaleMap(const ExpertRows& g, ShuffleOptions how) : m_(scale_shuffle_geometry(g, how)) {
    name = fmt::format("{}{}", tile_mode_name(how.mode), how.gate_up ? ", gate_up" : "");
    a = {g.experts, g.rows, g.row_bytes};
    b = {1, m_.padded_rows(), m_.padded_cols()};
    b_note = fmt::format("the 2-D [padded rows, padded cols] scale tensor; padding is {:#04x}", kScalePadByte);
  }
  Trace to_b(const Coord& c) const override {
    const std::int64_t o = scale_map_offset(m_, c.expert, c.row, c.col);
    return {Coord{0, o / b.cols, o % b.cols}, block_text(o)};
  }
  Trace to_a(const Coord& c) const override {
    const std::int64_t o = c.row * b.cols + c.col;
    const ExpertRowCol src = scale_map_source(m_, o);
    const Coord from{src.expert, src.row, src.col};
    if (!a.contains(from)) return {std::nullopt, "padding (" + block_text(o) + ")"};
    return {from, block_text(o)};
  }

 private:
  std::string block_text(std::int64_t offset) const {
    const std::int64_t expert_bytes = m_.rows * m_.padded_cols();
    const std::int64_t local = m_.per_expert ? offset % expert_bytes : offset;
    const RowCol f = scale_shuffle_source(local, m_.padded_cols());  // row in the formula's order
    std::string s = fmt::format("32x8 block {} (block row {}, block col {}), inside it col {} row {} col-half {} "
                                "row-half {}; byte {} of the 2-D output",
                                local / (kScaleBlockRows * kScaleBlockCols), f.row / kScaleBlockRows,
                                f.col / kScaleBlockCols, f.col % 4, f.row % 16, (f.col % kScaleBlockCols) / 4,
                                (f.row % kScaleBlockRows) / 16, offset);
    if (m_.per_expert) s += fmt::format(" (expert {}'s part starts at byte {})", offset / expert_bytes,
                                        offset / expert_bytes * expert_bytes);
    return s;
  }
  ScaleShuffleGeometry m_;
};

// §4: A = checkpoint expert tensor, B = this rank's padded buffer.
class TpMap final : public ElementMap {
 public:
  TpMap(ExpertTensor kind, const TpPlan& plan, std::int64_t experts) : plan_(plan), w_(tp_window(kind, plan, 1)) {
    name = fmt::format("{}, rank {} of tp {}", expert_tensor_name(kind), plan.rank, plan.tp);
    a = {experts, w_.src_rows, w_.src_row_bytes};
    b = {experts, w_.dst_rows, w_.dst_row_bytes};
    b_note = fmt::format("this rank's zero-padded buffer (I_p = {}, H_p = {})", plan.intermediate_padded,
                         plan.hidden_padded);
  }
  Trace to_b(const Coord& c) const override {
    if (c.row < w_.row_begin || c.row >= w_.row_end || c.col < w_.byte_begin || c.col >= w_.byte_end) {
      return {std::nullopt, "not loaded on this rank: " + window_text()};
    }
    return {Coord{c.expert, c.row - w_.row_begin, c.col - w_.byte_begin}, window_text()};
  }
  Trace to_a(const Coord& c) const override {
    if (c.row >= w_.row_end - w_.row_begin || c.col >= w_.byte_end - w_.byte_begin) {
      return {std::nullopt, "zero padding: " + window_text()};
    }
    return {Coord{c.expert, c.row + w_.row_begin, c.col + w_.byte_begin}, window_text()};
  }

 private:
  std::string window_text() const {
    return fmt::format("rank {} loads intermediate units [{}, {}) = checkpoint rows [{}, {}), cols [{}, {}) into "
                       "rows 0.., cols 0.. of each expert",
                       plan_.rank, plan_.unit_start, plan_.unit_end, w_.row_begin, w_.row_end, w_.byte_begin,
                       w_.byte_end);
  }
  TpPlan plan_;
  TpWindow w_;
};

std::unique_ptr<ElementMap> make_map(const TransformSpec& spec, const Shape& shape, std::string_view tensor_name,
                                     std::string_view label) {
  switch (spec.transform) {
    case Transform::deinterleave:
    case Transform::interleave: {
      const ExpertRows g = expert_rows(shape, 1, spec.experts, label);
      require_multiple(label, "rows", g.rows, 2, "gate/up de-interleave");
      return std::make_unique<RowMap>(g);
    }
    case Transform::shuffle_weight: {
      const ExpertRows g = weight_rows(shape, spec.experts, label);
      check_weight_shuffle(g, spec.shuffle, label);
      return std::make_unique<WeightMap>(g, spec.shuffle);
    }
    case Transform::shuffle_scale: {
      const ExpertRows g =
          spec.inverse ? original_scale_rows(spec, label) : scale_rows(shape, spec.experts, spec.shuffle, label);
      check_scale_shuffle(g, spec.shuffle, label);
      auto map = std::make_unique<ScaleMap>(g, spec.shuffle);
      if (spec.inverse && shape != Shape{map->b.rows, map->b.cols}) {
        input_error(label, fmt::format("shape {} is not the padded scale shape [{}, {}] of {} experts x {} rows x {} "
                                       "cols",
                                       shape_string(shape), map->b.rows, map->b.cols, g.experts, g.rows,
                                       g.row_bytes));
      }
      return map;
    }
    case Transform::tp_slice: {
      if (spec.inverse) input_error(label, "tp-slice drops the other ranks' units, so it has no inverse");
      const ExpertTensor kind = tp_kind(spec, tensor_name, label);
      const TpPlan plan = tp_plan_for_tensor(kind, shape, spec.tp, spec.rank, spec.dims, label);
      return std::make_unique<TpMap>(kind, plan, shape.at(0));
    }
  }
  input_error(label, "unknown transform");
}

Trace trace_in(const Grid& grid, const Coord& at, std::string_view side, auto&& map) {
  if (!grid.contains(at)) {
    return {std::nullopt, fmt::format("{} is outside the {} grid [{}, {}, {}]", coord_text(at), side, grid.experts,
                                      grid.rows, grid.cols)};
  }
  return map(at);
}

}  // namespace

Explanation explain_transform(const TransformSpec& spec, const Shape& input_shape, std::string_view tensor_name,
                              const Coord& at, std::string_view label) {
  const auto map = make_map(spec, input_shape, tensor_name, label);
  // The interleave transform is the de-interleave map read backwards; --inverse flips once more.
  const bool backwards = spec.inverse != (spec.transform == Transform::interleave);
  Explanation x;
  x.transform = fmt::format("{}{} ({}{})", transform_name(spec.transform), spec.inverse ? " --inverse" : "",
                            map->name, backwards ? "; read backwards" : "");
  x.input = backwards ? map->b : map->a;
  x.output = backwards ? map->a : map->b;
  (backwards ? x.input_note : x.output_note) = map->b_note;
  if (!x.input.contains(at) && !x.output.contains(at)) {
    input_error(label, fmt::format("{} is outside both the input [{}, {}, {}] and the output [{}, {}, {}]",
                                   coord_text(at), x.input.experts, x.input.rows, x.input.cols, x.output.experts,
                                   x.output.rows, x.output.cols));
  }
  auto forward = [&](const Coord& c) { return backwards ? map->to_a(c) : map->to_b(c); };
  auto backward = [&](const Coord& c) { return backwards ? map->to_b(c) : map->to_a(c); };
  x.lands = trace_in(x.input, at, "input", forward);
  x.source = trace_in(x.output, at, "output", backward);
  return x;
}

}  // namespace mxg::layout
