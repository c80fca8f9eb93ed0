// Random streams for input generation that give identical numbers on every platform, compiler
// and standard library: std::mt19937_64 (whose output sequence the C++ standard fixes) with
// transforms that use only exact integer and IEEE arithmetic, never libm or <random>'s
// distributions (whose algorithms are implementation-defined).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string_view>

namespace mxg::matrix {

// Key of the independent stream named `tag` (and `index`, e.g. a model expert number) under a
// case seed: splitmix64 mixing of the seed, an FNV-1a hash of the tag and the index.
std::uint64_t stream_key(std::uint64_t seed, std::string_view tag, std::uint64_t index = 0);

class SeededStream {
 public:
  SeededStream(std::uint64_t seed, std::string_view tag, std::uint64_t index = 0)
      : engine_(stream_key(seed, tag, index)) {}

  std::uint64_t bits() { return engine_(); }
  // Uniform in [0, n) without modulo bias (rejection of the incomplete top range). n >= 1.
  std::uint64_t below(std::uint64_t n);
  // Uniform in [0, 1) on the 2^-53 grid.
  double uniform();
  // Approximately standard normal: the sum of twelve uniforms minus six (Irwin–Hall), computed
  // exactly in integers, so mean 0, variance 1, support [-6, 6].
  double normal();
  // Uniform random bytes, eight per engine call.
  void fill(std::span<std::uint8_t> out);

 private:
  std::mt19937_64 engine_;
};

// e^x for x <= 0 (underflows to 0 below -700) from IEEE operations only (range reduction by
// ln 2 and a fixed polynomial), so softmax weights are the same bits everywhere. Relative error
// below 1e-15.
double portable_exp(double x);

// The float nearest `value` that bf16 represents exactly (round to nearest even).
float round_to_bf16(double value);

}  // namespace mxg::matrix
