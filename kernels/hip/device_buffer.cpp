// DeviceBuffer over the portable runtime calls.
#include "kernels/hip/device_buffer.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/hip/gpu_runtime.hpp"

namespace mxg::gpu {

DeviceBuffer::DeviceBuffer(std::size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  check(hipMalloc(&data_, bytes), ("hipMalloc of " + std::to_string(bytes) + " bytes").c_str());
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) (void)hipFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) (void)hipFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

DeviceBuffer DeviceBuffer::from_host(std::span<const std::byte> host) {
  DeviceBuffer buffer(host.size());
  buffer.upload(host);
  return buffer;
}

void DeviceBuffer::upload(std::span<const std::byte> host) {
  if (host.size() > size_) throw std::invalid_argument("DeviceBuffer::upload: more bytes than the buffer holds");
  if (host.empty()) return;
  check(hipMemcpy(data_, host.data(), host.size(), hipMemcpyHostToDevice), "hipMemcpy to device");
}

void DeviceBuffer::download(std::span<std::byte> host) const {
  if (host.size() > size_) throw std::invalid_argument("DeviceBuffer::download: more bytes than the buffer holds");
  if (host.empty()) return;
  check(hipMemcpy(host.data(), data_, host.size(), hipMemcpyDeviceToHost), "hipMemcpy to host");
}

void DeviceBuffer::fill(unsigned char value) {
  if (size_ == 0) return;
  check(hipMemset(data_, value, size_), "hipMemset");
}

GuardedDeviceBuffer::GuardedDeviceBuffer(std::span<const std::byte> host, std::size_t guard)
    : block_(host.size() + 2 * guard), guard_(guard) {
  block_.fill(0xFF);
  if (host.empty()) return;
  check(hipMemcpy(static_cast<std::byte*>(block_.data()) + guard, host.data(), host.size(), hipMemcpyHostToDevice),
        "hipMemcpy to device (guarded)");
}

}  // namespace mxg::gpu
