// Where one element goes under a layout transform and where an element of the result came from,
// with the tile / block / slice it passes through: `mxguard layout explain`, for a person
// debugging a layout. Every position comes from the index_maps.hpp formulas.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernels/layout/transform.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

// An element of a tensor viewed as experts x rows x cols (cols are elements: bytes for packed
// weights and scales, one per row for biases).
struct Coord {
  std::int64_t expert = 0, row = 0, col = 0;
  bool operator==(const Coord&) const = default;
};
struct Grid {
  std::int64_t experts = 1, rows = 0, cols = 0;
  bool contains(const Coord& c) const {
    return c.expert >= 0 && c.expert < experts && c.row >= 0 && c.row < rows && c.col >= 0 && c.col < cols;
  }
  bool operator==(const Grid&) const = default;
};

struct Trace {
  std::optional<Coord> at;  // none: the element is dropped, is padding, or is outside the grid
  std::string detail;       // tile / block / offsets passed through, or why there is no element
};

struct Explanation {
  std::string transform;               // "shuffle-weight (interleaved tiles, gate_up)"
  Grid input, output;                  // the input and output tensors as element grids
  std::string input_note, output_note;  // what a grid is when it is not the tensor's own shape
  Trace lands;                         // where the input element `at` lands in the output
  Trace source;                        // where the output element `at` came from in the input
};

// Reads `input_shape` exactly as apply_transform would (InputError on the same bad shapes) and
// traces `at` both ways. A coordinate outside one grid gives a Trace without `at` for that
// direction; outside both is an InputError.
Explanation explain_transform(const TransformSpec& spec, const Shape& input_shape, std::string_view tensor_name,
                              const Coord& at, std::string_view label);

}  // namespace mxg::layout
