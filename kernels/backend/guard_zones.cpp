// Guarded copies (guard_zones.hpp): one heap block [guard | data | guard], the view points inside.
#include "kernels/backend/guard_zones.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

namespace mxg {

namespace {
struct AlignedBlock {
  std::byte* p = nullptr;
  explicit AlignedBlock(std::size_t n) : p(static_cast<std::byte*>(::operator new(n, std::align_val_t{64}))) {}
  ~AlignedBlock() { ::operator delete(p, std::align_val_t{64}); }
  AlignedBlock(const AlignedBlock&) = delete;
  AlignedBlock& operator=(const AlignedBlock&) = delete;
};
}  // namespace

Tensor guarded_copy(const Tensor& t, std::size_t guard_bytes) {
  const std::size_t n = t.nbytes();
  auto block = std::make_shared<AlignedBlock>(n + 2 * guard_bytes + 1);  // +1: never a zero-size block
  std::memset(block->p, kGuardByte, n + 2 * guard_bytes + 1);
  if (n > 0) std::memcpy(block->p + guard_bytes, t.bytes().data(), n);
  const std::byte* data = block->p + guard_bytes;
  return Tensor::view(t.dtype(), t.shape(), data, std::shared_ptr<const void>(block, block->p));
}

bool guards_intact(const Tensor& guarded, std::size_t guard_bytes) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(guarded.bytes().data());
  auto all_guard = [](const std::uint8_t* p, std::size_t n) {
    return std::all_of(p, p + n, [](std::uint8_t b) { return b == kGuardByte; });
  };
  return all_guard(data - guard_bytes, guard_bytes) && all_guard(data + guarded.nbytes(), guard_bytes);
}

}  // namespace mxg
