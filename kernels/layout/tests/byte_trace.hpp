// Test helpers that follow every byte through a layout transform: each input byte position i is
// given the 32-bit code i + 1, spread over four byte planes; running the byte-moving transform
// once per plane and reassembling tells, for every output byte, which input byte landed there
// (0 = zero fill, kScalePadCode = the 0x7F scale padding).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/common/splitmix64.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::layout::testing {

inline constexpr std::uint32_t kScalePadCode = 0x7F7F7F7F;

using ByteMove = std::function<void(std::span<const std::byte> in, std::span<std::byte> out)>;

inline std::vector<std::uint32_t> trace_codes(std::size_t in_bytes, std::size_t out_bytes, const ByteMove& move) {
  std::vector<std::uint32_t> codes(out_bytes, 0);
  std::vector<std::byte> in(in_bytes), out(out_bytes);
  for (int plane = 0; plane < 4; ++plane) {
    for (std::size_t i = 0; i < in_bytes; ++i) in[i] = static_cast<std::byte>(((i + 1) >> (8 * plane)) & 0xFF);
    std::fill(out.begin(), out.end(), std::byte{0xEE});  // anything the move forgets to write shows up
    move(in, out);
    for (std::size_t i = 0; i < out_bytes; ++i) codes[i] |= std::to_integer<std::uint32_t>(out[i]) << (8 * plane);
  }
  return codes;
}

// Same, through a Tensor-level transform: the input tensor holds one plane of the codes.
inline std::vector<std::uint32_t> trace_tensor_codes(DType dtype, const Shape& shape,
                                                     const std::function<Tensor(const Tensor&)>& transform) {
  std::vector<std::uint32_t> codes;
  for (int plane = 0; plane < 4; ++plane) {
    Tensor in(dtype, shape);
    auto bytes = in.mutable_bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(((i + 1) >> (8 * plane)) & 0xFF);
    const Tensor out = transform(in);
    if (codes.empty()) codes.assign(out.nbytes(), 0);
    const auto ob = out.bytes();
    for (std::size_t i = 0; i < ob.size(); ++i) codes[i] |= std::to_integer<std::uint32_t>(ob[i]) << (8 * plane);
  }
  return codes;
}

// Every input code 1..n appears exactly once among the non-padding output codes.
inline ::testing::AssertionResult is_bijection(const std::vector<std::uint32_t>& codes, std::size_t n,
                                               std::uint32_t padding_code) {
  std::vector<std::uint32_t> real;
  for (auto c : codes) {
    if (c != padding_code) real.push_back(c);
  }
  std::sort(real.begin(), real.end());
  std::vector<std::uint32_t> all(n);
  std::iota(all.begin(), all.end(), 1u);
  if (real == all) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << real.size() << " non-padding codes, expected each of 1.." << n
                                       << " exactly once";
}

// Element-wise comparison that names the first differing output byte and both codes.
inline ::testing::AssertionResult same_codes(const std::vector<std::uint32_t>& actual,
                                             const std::vector<std::uint32_t>& expected) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << "size " << actual.size() << " vs expected " << expected.size();
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      return ::testing::AssertionFailure() << "output byte " << i << " holds input byte " << actual[i] - 1
                                           << " (code " << actual[i] << "), expected input byte " << expected[i] - 1
                                           << " (code " << expected[i] << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// Deterministic pseudo-random bytes (splitmix64) for round-trip tests.
inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> out(n);
  SplitMix64 stream{seed};
  for (auto& b : out) b = static_cast<std::byte>(stream.next() & 0xFF);
  return out;
}

inline Tensor random_tensor(DType dtype, const Shape& shape, std::uint64_t seed) {
  Tensor t(dtype, shape);
  const auto bytes = random_bytes(t.nbytes(), seed);
  std::copy(bytes.begin(), bytes.end(), t.mutable_bytes().begin());
  return t;
}

// The GPT-OSS padded intermediate sizes I_p at tp 1/2/4/8 (LAYOUTS.md §4 table) and H_p.
inline constexpr std::int64_t kGptOssIp[] = {3072, 1536, 768, 512};
inline constexpr std::int64_t kGptOssHp = 3072;

}  // namespace mxg::layout::testing
