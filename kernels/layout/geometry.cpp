// Shape interpretation and precondition errors shared by the layout transforms.
#include "kernels/layout/geometry.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::layout {

void input_error(std::string_view label, std::string_view message) {
  throw InputError(fmt::format("{}: {}", label, message));
}

void require_multiple(std::string_view label, std::string_view dim, std::int64_t value, std::int64_t multiple,
                      std::string_view operation) {
  if (value > 0 && value % multiple == 0) return;
  if (value <= 0) {
    input_error(label, fmt::format("{} = {} must be positive ({} needs {} % {} == 0)", dim, value, operation, dim,
                                   multiple));
  }
  input_error(label, fmt::format("{} = {} is not a multiple of {} ({} needs {} % {} == 0)", dim, value, multiple,
                                 operation, dim, multiple));
}

void require_positive(std::string_view label, std::string_view dim, std::int64_t value) {
  if (value <= 0) input_error(label, fmt::format("{} = {} must be positive", dim, value));
}

void require_byte_dtype(const Tensor& t, std::string_view label, std::string_view operation) {
  if (dtype_size(t.dtype()) == 1) return;
  input_error(label, fmt::format("dtype = {} but {} moves bytes of packed MXFP4 / E8M0 data (U8 or I8)",
                                 dtype_name(t.dtype()), operation));
}

void require_buffer_size(std::size_t actual, std::int64_t expected, std::string_view which) {
  if (expected >= 0 && actual == static_cast<std::size_t>(expected)) return;
  throw std::invalid_argument(fmt::format("layout: {} buffer has {} bytes, expected {}", which, actual, expected));
}

ExpertRows expert_rows(const Shape& shape, std::size_t dtype_size, std::optional<std::int64_t> experts,
                       std::string_view label) {
  const auto size = static_cast<std::int64_t>(dtype_size);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] <= 0) input_error(label, fmt::format("dim {} = {} in shape {} must be positive", i, shape[i],
                                                      shape_string(shape)));
  }
  if (experts && *experts <= 0) input_error(label, fmt::format("experts = {} must be positive", *experts));
  switch (shape.size()) {
    case 0:
      input_error(label, "a scalar has no rows to transform");
    case 1:
      if (experts && *experts != 1) {
        input_error(label, fmt::format("shape {} holds one expert but experts = {}", shape_string(shape), *experts));
      }
      return {1, shape[0], size};
    case 2:
      if (!experts) return {shape[0], shape[1], size};
      if (shape[0] % *experts != 0) {
        input_error(label, fmt::format("stacked rows = {} (dim 0 of {}) is not a multiple of experts = {}", shape[0],
                                       shape_string(shape), *experts));
      }
      return {*experts, shape[0] / *experts, shape[1] * size};
    default: {
      if (experts && *experts != shape[0]) {
        input_error(label, fmt::format("experts = {} but dim 0 of {} is {}", *experts, shape_string(shape), shape[0]));
      }
      std::int64_t row_bytes = size;
      for (std::size_t i = 2; i < shape.size(); ++i) row_bytes *= shape[i];
      return {shape[0], shape[1], row_bytes};
    }
  }
}

}  // namespace mxg::layout
