// A "ggml preparation": the typed description of what a converter or loader did to a GPT-OSS
// layer's expert tensors on their way into ggml, the right pipeline (llama.cpp's converter) being
// one value and each realistic bug another. ggml_convert.hpp applies one; this header names them
// and derives, by composing the ggml index maps, whether ggml would read the checkpoint's values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "kernels/layout/enum_names.hpp"
#include "kernels/layout/ggml_index_maps.hpp"

namespace mxg::layout::ggml {

// The split of gate_up scales or biases: the weights' split, or one of its own (a loader that cut
// the companion tensor differently from the code bytes).
enum class CompanionSplit : std::uint8_t { like_weights, right, swapped, halves };
// Whether the code bytes went through the nibble transform (checkpoint -> ggml packing).
enum class NibbleTransform : std::uint8_t { applied, skipped };
// Gate and up as two tensors (llama.cpp's GPT-OSS converter and loader) or one merged [gate | up]
// tensor (build_moe_ffn's merged path). Both are consistent; the form is not a bug dimension.
enum class GateUpForm : std::uint8_t { separate, merged };

struct GgmlPrep {
  GateUpSplit split = GateUpSplit::right;                 // gate_up code bytes
  CompanionSplit scale_split = CompanionSplit::like_weights;  // gate_up E8M0 scales
  CompanionSplit bias_split = CompanionSplit::like_weights;   // gate_up biases
  NibbleTransform nibbles = NibbleTransform::applied;     // gate, up and down
  ScaleByte scale_byte = ScaleByte::right;                // gate, up and down
  GateUpForm form = GateUpForm::separate;

  bool operator==(const GgmlPrep&) const = default;
};

// The split a companion tensor actually gets.
constexpr GateUpSplit effective_split(CompanionSplit c, GateUpSplit weights) {
  switch (c) {
    case CompanionSplit::like_weights:
      break;
    case CompanionSplit::right:
      return GateUpSplit::right;
    case CompanionSplit::swapped:
      return GateUpSplit::swapped;
    case CompanionSplit::halves:
      return GateUpSplit::halves;
  }
  return weights;
}

// Dimension names, in id order, as `ggml_prep_id`, `set_ggml_prep_dimension` and the CLI spell them.
inline constexpr std::string_view kGgmlPrepDimensions[] = {"split", "scale_split", "bias_split",
                                                           "nibbles", "scale_byte", "form"};
// "split=right/scale_split=like-weights/bias_split=like-weights/nibbles=applied/scale_byte=right/form=separate"
std::string ggml_prep_id(const GgmlPrep& p);
// Sets one dimension from its spelling; InputError "<dimension> = '<value>': expected a | b | c"
// (or naming the unknown dimension).
void set_ggml_prep_dimension(GgmlPrep& p, std::string_view dimension, std::string_view value);
// Inverse of ggml_prep_id (every dimension optional; absent = default). InputError on bad text.
GgmlPrep parse_ggml_prep_id(std::string_view id);

// What ggml reads, derived by composing the maps of ggml_index_maps.hpp (the prep's write, then
// ggml's block_mxfp4 read) for every element of a generic expert, compared with the checkpoint.
struct GgmlPrepEffect {
  bool weight_rows_right = true;   // gate row j / up row j come from checkpoint rows 2j / 2j+1
  bool elements_right = true;      // element k of a block is the checkpoint's element k
  bool scale_rows_right = true;    // each row's scales come from the same checkpoint row
  int scale_exponent_shift = 0;    // power of two every scale is off by
  bool bias_rows_right = true;     // gate / up bias j from checkpoint bias 2j / 2j+1
  bool consistent() const {
    return weight_rows_right && elements_right && scale_rows_right && scale_exponent_shift == 0 && bias_rows_right;
  }
};
GgmlPrepEffect derive_ggml_prep_effect(const GgmlPrep& p);

}  // namespace mxg::layout::ggml

namespace mxg::layout {
template <>
struct EnumNames<ggml::GateUpSplit> {
  static constexpr std::pair<ggml::GateUpSplit, std::string_view> table[] = {
      {ggml::GateUpSplit::right, "right"}, {ggml::GateUpSplit::swapped, "swapped"}, {ggml::GateUpSplit::halves, "halves"}};
};
template <>
struct EnumNames<ggml::CompanionSplit> {
  static constexpr std::pair<ggml::CompanionSplit, std::string_view> table[] = {
      {ggml::CompanionSplit::like_weights, "like-weights"},
      {ggml::CompanionSplit::right, "right"},
      {ggml::CompanionSplit::swapped, "swapped"},
      {ggml::CompanionSplit::halves, "halves"}};
};
template <>
struct EnumNames<ggml::NibbleTransform> {
  static constexpr std::pair<ggml::NibbleTransform, std::string_view> table[] = {
      {ggml::NibbleTransform::applied, "applied"}, {ggml::NibbleTransform::skipped, "skipped"}};
};
template <>
struct EnumNames<ggml::ScaleByte> {
  static constexpr std::pair<ggml::ScaleByte, std::string_view> table[] = {
      {ggml::ScaleByte::right, "right"}, {ggml::ScaleByte::halved, "halved"}, {ggml::ScaleByte::doubled, "doubled"}};
};
template <>
struct EnumNames<ggml::GateUpForm> {
  static constexpr std::pair<ggml::GateUpForm, std::string_view> table[] = {
      {ggml::GateUpForm::separate, "separate"}, {ggml::GateUpForm::merged, "merged"}};
};
}  // namespace mxg::layout
