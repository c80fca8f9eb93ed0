// An owned block of device memory with host <-> device copies; frees itself, moves, never copies.
#pragma once

#include <cstddef>
#include <span>

namespace mxg::gpu {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);  // InfraError when the allocation fails
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // A buffer holding a copy of `host`.
  static DeviceBuffer from_host(std::span<const std::byte> host);

  void* data() const { return data_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  std::size_t size() const { return size_; }

  // Copies into the start of the buffer / out of it; std::invalid_argument when `host` is larger.
  void upload(std::span<const std::byte> host);
  void download(std::span<std::byte> host) const;
  // Sets every byte to `value` (e.g. 0xFF, a NaN pattern, to catch outputs a kernel never wrote).
  void fill(unsigned char value);

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

// A copy of host bytes between two guard zones of `guard` bytes set to 0xFF (E8M0 NaN), so a kernel
// that reads past either end of a weight or scale tensor gets NaN rather than whatever lies next to
// it (kernels/backend/guard_zones.hpp has the host side and the incident class).
class GuardedDeviceBuffer {
 public:
  GuardedDeviceBuffer(std::span<const std::byte> host, std::size_t guard);
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(static_cast<std::byte*>(block_.data()) + guard_);
  }

 private:
  DeviceBuffer block_;
  std::size_t guard_ = 0;
};

}  // namespace mxg::gpu
