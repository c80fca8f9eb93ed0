// Deterministic draws of the stand-in server: every random-looking choice is a splitmix64 hash of the
// seed, a text (the question) and a salt naming the choice, so a run repeats exactly and tests can
// predict each decision from the same inputs.
#pragma once

#include <cstdint>
#include <string_view>

namespace mxg::standin {

// One salt per independent decision, so that e.g. "is it correct" and "which wording" do not
// correlate. Values are part of the determinism contract: changing one changes every run.
enum class Salt : std::uint64_t {
  Correct = 1,     // answered correctly (compared with the accuracy)
  WrongStyle = 2,  // wrong number, rambling or degenerate
  Wording = 3,     // which opener / sentences a text uses
  WrongDelta = 4,  // how far the wrong number is from the label
  FaultBase = 16,  // + the fault's index (fault_plan.cpp)
  Variant = 32,    // which malformed body / drop point a fault uses
};

// A 64-bit key for (seed, text): bytes folded eight at a time (little-endian, so every platform
// agrees) through the splitmix64 finaliser, with the length mixed in last.
std::uint64_t text_key(std::uint64_t seed, std::string_view text);

// Bits for decision `salt` number `index` (e.g. the n-th request of a question) under `key`.
std::uint64_t draw_bits(std::uint64_t key, Salt salt, std::uint64_t index = 0);

// The same as a double uniform in [0, 1): the top 53 bits scaled, so `draw_unit(...) < p` fires with
// probability p exactly for p in {0, 1} and within 2^-53 otherwise.
double draw_unit(std::uint64_t key, Salt salt, std::uint64_t index = 0);

}  // namespace mxg::standin
