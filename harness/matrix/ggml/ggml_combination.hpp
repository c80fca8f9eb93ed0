// The ggml kernel family's matrix dimensions: how a converter or loader prepared the experts
// (kernels/layout/ggml_prep.hpp, llama.cpp's converter being the one right value of each) and how
// ggml was told to hold them (llama.cpp's repacked CPU buffers or the plain ones, both right).
// One GgmlCombination is one point of their product.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/layout/ggml_prep.hpp"

namespace mxg::matrix::ggml {

// Where ggml keeps the expert weights: llama.cpp's default (CPU_REPACK, an 8-row interleaved
// re-layout with its own GEMM, where the CPU supports it) or the plain CPU buffer (`--no-repack`).
enum class WeightBuffers : std::uint8_t { repack, plain };

struct GgmlCombination {
  layout::ggml::GgmlPrep prep;
  WeightBuffers buffers = WeightBuffers::repack;
  // Stack mode: the experts come from the stack's own preparation command, not from `prep`; the
  // id and dimensions then say "prep=stack" and the expectation is that the stack is right.
  bool stack = false;

  bool operator==(const GgmlCombination&) const = default;
};

// Dimension names in id order: the prep's, then "buffers".
std::vector<std::string> dimension_names();
// Every value of a ggml dimension (empty for a name that is not one).
std::vector<std::string> dimension_values(std::string_view dimension);
// Dimension -> value, with "family" = "ggml" first, as reports and scenarios see them.
std::map<std::string, std::string> dimension_map(const GgmlCombination& c);
// "split=right/scale_split=like-weights/bias_split=like-weights/nibbles=applied/scale_byte=right/form=separate/buffers=repack"
std::string combination_id(const GgmlCombination& c);

// The product restricted to `allowed` (dimension -> values; absent = all). InputError naming an
// unknown dimension or value.
std::vector<GgmlCombination> expand_combinations(const std::map<std::string, std::vector<std::string>>& allowed);

// The derived expectation: consistent only when ggml reads back every checkpoint value (the
// converter's pipeline; the buffer choice and the gate_up form never change that). `reason` names
// what comes back wrong, e.g. "gate/up rows: gate row j is read from checkpoint row 2j+1".
struct GgmlDerivation {
  bool consistent = true;
  std::string reason;
};
GgmlDerivation derive(const GgmlCombination& c);

}  // namespace mxg::matrix::ggml
