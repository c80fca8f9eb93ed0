// Deterministic draws: text keys and per-decision bits built on the shared splitmix64 finaliser.
#include "harness/standin/draws.hpp"

#include "harness/standin/standin_server.hpp"
#include "kernels/common/splitmix64.hpp"

namespace mxg::standin {

std::uint64_t text_key(std::uint64_t seed, std::string_view text) {
  std::uint64_t h = splitmix64_mix(seed + kSplitMixGamma);
  std::size_t i = 0;
  for (; i < text.size(); i += 8) {
    std::uint64_t word = 0;
    for (std::size_t b = 0; b < 8 && i + b < text.size(); ++b) {
      word |= std::uint64_t(static_cast<unsigned char>(text[i + b])) << (8 * b);
    }
    h = splitmix64_mix(h ^ word) + kSplitMixGamma;
  }
  return splitmix64_mix(h ^ std::uint64_t(text.size()));
}

std::uint64_t draw_bits(std::uint64_t key, Salt salt, std::uint64_t index) {
  const std::uint64_t decision = splitmix64_mix(static_cast<std::uint64_t>(salt) * kSplitMixGamma + index);
  return splitmix64_mix(key ^ decision);
}

double draw_unit(std::uint64_t key, Salt salt, std::uint64_t index) {
  return static_cast<double>(draw_bits(key, salt, index) >> 11) * 0x1.0p-53;
}

bool answers_correctly(std::uint64_t seed, double accuracy, const std::string& question) {
  return draw_unit(text_key(seed, question), Salt::Correct) < accuracy;
}

}  // namespace mxg::standin
