// A small typed host tensor: dtype, shape and a byte buffer that is either owned or a
// read-only view into a memory-mapped file (copied on first write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/tensor/dtype.hpp"

namespace mxg {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
std::string shape_string(const Shape& shape);  // "[128, 5760, 90, 16]"

class Tensor {
 public:
  Tensor() = default;
  // Owned, zero-filled.
  Tensor(DType dtype, Shape shape);
  // Read-only view of `data` (nbytes must equal numel * dtype size); `keepalive` owns the memory.
  static Tensor view(DType dtype, Shape shape, const std::byte* data,
                     std::shared_ptr<const void> keepalive);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  std::int64_t dim(std::size_t i) const { return shape_.at(i); }
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return nbytes_; }
  bool empty() const { return nbytes_ == 0; }

  std::span<const std::byte> bytes() const { return {data_, nbytes_}; }
  // Makes the buffer owned (copying a view) before handing out writable bytes.
  std::span<std::byte> mutable_bytes();

  template <class T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(data_), nbytes_ / sizeof(T)};
  }
  template <class T>
  std::span<T> as_mut() {
    auto b = mutable_bytes();
    return {reinterpret_cast<T*>(b.data()), b.size() / sizeof(T)};
  }

  // Same bytes, new shape with the same element count (throws std::invalid_argument otherwise).
  Tensor reshaped(Shape shape) const;
  // Element (flat index) converted to double, for any dtype.
  double value_at(std::int64_t flat_index) const;
  // Whole tensor converted to f32 / from f32 (F32, BF16, F16, F64 and the integer types).
  std::vector<float> to_f32() const;
  static Tensor from_f32(std::span<const float> values, Shape shape, DType dtype = DType::F32);

  bool same_bytes(const Tensor& other) const;

 private:
  DType dtype_ = DType::U8;
  Shape shape_;
  std::size_t nbytes_ = 0;
  const std::byte* data_ = nullptr;
  std::shared_ptr<const void> keepalive_;  // owns data_ (owned buffer or mapping)
  bool owned_ = false;
};

}  // namespace mxg
