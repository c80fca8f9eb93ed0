// splitmix64 (Steele, Lea and Flood, 2014): the 64-bit finaliser and the Weyl-sequence stream
// built on it. Used where fast, seedable bits that are the same on every platform are enough
// (benchmark and test inputs, stream keys); one definition, so every user gets the same sequence.
#pragma once

#include <cstdint>

namespace mxg {

inline constexpr std::uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ull;

// The mixing function applied to each state.
constexpr std::uint64_t splitmix64_mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The stream: each call advances the state by the gamma and returns its mix.
struct SplitMix64 {
  std::uint64_t state;
  constexpr std::uint64_t next() { return splitmix64_mix(state += kSplitMixGamma); }
};

}  // namespace mxg
