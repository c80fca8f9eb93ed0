// How the layout transforms view a tensor (experts x rows x bytes per row), and the one-line
// precondition errors they raise when a shape does not fit (LAYOUTS.md §4–§7).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/tensor/tensor.hpp"

namespace mxg::layout {

// An expert-stacked byte matrix: `experts` contiguous blocks of `rows` rows of `row_bytes` bytes.
struct ExpertRows {
  std::int64_t experts = 1;
  std::int64_t rows = 0;       // per expert
  std::int64_t row_bytes = 0;  // bytes per row
  std::int64_t expert_bytes() const { return rows * row_bytes; }
  std::int64_t total_bytes() const { return experts * expert_bytes(); }
  bool operator==(const ExpertRows&) const = default;
};

// The shape rules every transform, the CLI and `layout explain` share:
//   rank >= 3  [E, rows, d2, ...]  E experts; a row is d2*...*dtype_size bytes, so 4-D checkpoint
//              blocks [E, rows, K/32, 16] read as [E, rows, K/2]. `experts`, if given, must equal E.
//   rank 2 with `experts`     stacked [E*rows, cols] (AITER's 2-D scales): rows = dim0 / E.
//   rank 2 without `experts`  biases [E, rows]: one element per row.
//   rank 1                    [rows]: one expert, one element per row.
// Throws InputError naming `label` and the dimension when the shape cannot be read that way.
ExpertRows expert_rows(const Shape& shape, std::size_t dtype_size, std::optional<std::int64_t> experts,
                       std::string_view label);

// InputError "<label>: <message>".
[[noreturn]] void input_error(std::string_view label, std::string_view message);

// InputError "<label>: <dim> = <value> is not a multiple of <multiple> (<operation> needs
// <dim> % <multiple> == 0)" unless value is a positive multiple.
void require_multiple(std::string_view label, std::string_view dim, std::int64_t value, std::int64_t multiple,
                      std::string_view operation);

// InputError "<label>: <dim> = <value> must be positive" unless value > 0.
void require_positive(std::string_view label, std::string_view dim, std::int64_t value);

// InputError unless `t` holds one-byte elements (packed E2M1 pairs or E8M0 scales).
void require_byte_dtype(const Tensor& t, std::string_view label, std::string_view operation);

// Throws std::invalid_argument when a raw buffer's size is not `expected` bytes: a caller bug, not
// bad user input (the Tensor wrappers size buffers themselves).
void require_buffer_size(std::size_t actual, std::int64_t expected, std::string_view which);

}  // namespace mxg::layout
