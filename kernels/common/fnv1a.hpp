// FNV-1a, 64-bit: a stable, dependency-free string hash (the same value on every platform and
// run), for deriving seeds and short names from text. Not for anything adversarial.
#pragma once

#include <cstdint>
#include <string_view>

namespace mxg {

constexpr std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ull;  // offset basis
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;  // FNV prime
  }
  return h;
}

// Known answers of the reference definition, checked at compile time.
static_assert(fnv1a64("") == 0xCBF29CE484222325ull);
static_assert(fnv1a64("a") == 0xAF63DC4C8601EC8Cull);

}  // namespace mxg
