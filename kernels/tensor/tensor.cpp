// Host tensor storage: owned buffers and copy-on-write views of mapped files.
#include "kernels/tensor/tensor.hpp"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mxg {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

namespace {
std::shared_ptr<std::byte[]> allocate_zeroed(std::size_t n) {
  // make_shared_for_overwrite would leave it uninitialised; tensors start zeroed on purpose.
  auto p = std::shared_ptr<std::byte[]>(new std::byte[n == 0 ? 1 : n]());
  return p;
}
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  for (auto d : shape_) {
    if (d < 0) throw std::invalid_argument(fmt::format("negative dimension in shape {}", shape_string(shape_)));
  }
  nbytes_ = static_cast<std::size_t>(shape_numel(shape_)) * dtype_size(dtype_);
  auto buf = allocate_zeroed(nbytes_);
  data_ = buf.get();
  keepalive_ = std::move(buf);
  owned_ = true;
}

Tensor Tensor::view(DType dtype, Shape shape, const std::byte* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.nbytes_ = static_cast<std::size_t>(shape_numel(t.shape_)) * dtype_size(dtype);
  t.data_ = data;
  t.keepalive_ = std::move(keepalive);
  t.owned_ = false;
  return t;
}

std::span<std::byte> Tensor::mutable_bytes() {
  if (!owned_ || keepalive_.use_count() > 1) {  // a view, or a buffer shared by a copy: detach
    auto buf = allocate_zeroed(nbytes_);
    if (nbytes_ != 0) std::memcpy(buf.get(), data_, nbytes_);
    data_ = buf.get();
    keepalive_ = std::move(buf);
    owned_ = true;
  }
  return {const_cast<std::byte*>(data_), nbytes_};
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel()) {
    throw std::invalid_argument(
        fmt::format("cannot reshape {} to {}", shape_string(shape_), shape_string(shape)));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

double Tensor::value_at(std::int64_t i) const {
  const std::byte* p = data_ + static_cast<std::size_t>(i) * dtype_size(dtype_);
  auto load = [p]<class T>(T) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  };
  switch (dtype_) {
    case DType::U8: return load(std::uint8_t{});
    case DType::I8: return load(std::int8_t{});
    case DType::I16: return load(std::int16_t{});
    case DType::I32: return load(std::int32_t{});
    case DType::I64: return static_cast<double>(load(std::int64_t{}));
    case DType::F16: return f16_to_f32(load(std::uint16_t{}));
    case DType::BF16: return bf16_to_f32(load(std::uint16_t{}));
    case DType::F32: return load(float{});
    case DType::F64: return load(double{});
  }
  return 0.0;
}

std::vector<float> Tensor::to_f32() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  if (dtype_ == DType::F32) {
    if (!out.empty()) std::memcpy(out.data(), data_, nbytes_);
    return out;
  }
  if (dtype_ == DType::BF16) {
    auto src = as<std::uint16_t>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_f32(src[i]);
    return out;
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(value_at(static_cast<std::int64_t>(i)));
  return out;
}

Tensor Tensor::from_f32(std::span<const float> values, Shape shape, DType dtype) {
  Tensor t(dtype, std::move(shape));
  if (static_cast<std::size_t>(t.numel()) != values.size()) {
    throw std::invalid_argument(fmt::format("{} values do not fill shape {}", values.size(), shape_string(t.shape())));
  }
  auto b = t.mutable_bytes();
  auto store = [&]<class T>(std::size_t i, T v) { std::memcpy(b.data() + i * sizeof(T), &v, sizeof(T)); };
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    switch (dtype) {
      case DType::F32: store(i, v); break;
      case DType::BF16: store(i, f32_to_bf16(v)); break;
      case DType::F16: store(i, f32_to_f16(v)); break;
      case DType::F64: store(i, static_cast<double>(v)); break;
      case DType::U8: store(i, static_cast<std::uint8_t>(v)); break;
      case DType::I8: store(i, static_cast<std::int8_t>(v)); break;
      case DType::I16: store(i, static_cast<std::int16_t>(v)); break;
      case DType::I32: store(i, static_cast<std::int32_t>(v)); break;
      case DType::I64: store(i, static_cast<std::int64_t>(v)); break;
    }
  }
  return t;
}

bool Tensor::same_bytes(const Tensor& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ && nbytes_ == other.nbytes_ &&
         (nbytes_ == 0 || std::memcmp(data_, other.data_, nbytes_) == 0);
}

}  // namespace mxg
