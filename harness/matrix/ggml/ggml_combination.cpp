#include "harness/matrix/ggml/ggml_combination.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/enum_names.hpp"

namespace mxg::layout {
template <>
struct EnumNames<matrix::ggml::WeightBuffers> {
  static constexpr std::pair<matrix::ggml::WeightBuffers, std::string_view> table[] = {
      {matrix::ggml::WeightBuffers::repack, "repack"}, {matrix::ggml::WeightBuffers::plain, "plain"}};
};
}  // namespace mxg::layout

namespace mxg::matrix::ggml {
namespace {

constexpr std::string_view kBuffers = "buffers";

template <class E>
void add_values(std::vector<std::string>& out) {
  auto v = layout::allowed_values<E>();
  out.insert(out.end(), v.begin(), v.end());
}

}  // namespace

std::vector<std::string> dimension_names() {
  std::vector<std::string> names(std::begin(layout::ggml::kGgmlPrepDimensions), std::end(layout::ggml::kGgmlPrepDimensions));
  names.emplace_back(kBuffers);
  return names;
}

std::vector<std::string> dimension_values(std::string_view dimension) {
  using namespace layout::ggml;
  std::vector<std::string> out;
  if (dimension == "split") add_values<GateUpSplit>(out);
  else if (dimension == "scale_split" || dimension == "bias_split") add_values<CompanionSplit>(out);
  else if (dimension == "nibbles") add_values<NibbleTransform>(out);
  else if (dimension == "scale_byte") add_values<ScaleByte>(out);
  else if (dimension == "form") add_values<GateUpForm>(out);
  else if (dimension == kBuffers) add_values<WeightBuffers>(out);
  return out;
}

std::map<std::string, std::string> dimension_map(const GgmlCombination& c) {
  std::map<std::string, std::string> dims{{"family", "ggml"}};
  if (c.stack) {
    dims["prep"] = "stack";
    dims[std::string(kBuffers)] = std::string(layout::to_string(c.buffers));
    return dims;
  }
  // The prep's id is "name=value/..." in dimension order: one spelling, from the prep's own table.
  const std::string id = layout::ggml::ggml_prep_id(c.prep);
  std::size_t start = 0;
  while (start < id.size()) {
    const auto end = std::min(id.find('/', start), id.size());
    const auto part = id.substr(start, end - start);
    const auto eq = part.find('=');
    dims[part.substr(0, eq)] = part.substr(eq + 1);
    start = end + 1;
  }
  dims[std::string(kBuffers)] = std::string(layout::to_string(c.buffers));
  return dims;
}

std::string combination_id(const GgmlCombination& c) {
  if (c.stack) return fmt::format("prep=stack/{}={}", kBuffers, layout::to_string(c.buffers));
  return fmt::format("{}/{}={}", layout::ggml::ggml_prep_id(c.prep), kBuffers, layout::to_string(c.buffers));
}

std::vector<GgmlCombination> expand_combinations(const std::map<std::string, std::vector<std::string>>& allowed) {
  const auto names = dimension_names();
  for (const auto& [dim, values] : allowed) {
    const auto known = dimension_values(dim);
    if (known.empty()) {
      throw InputError(fmt::format("dimensions: '{}' is not a ggml dimension (ggml dimensions: {})", dim,
                                   fmt::join(names, ", ")));
    }
    for (const auto& v : values) {
      if (std::find(known.begin(), known.end(), v) == known.end()) {
        throw InputError(fmt::format("dimensions/{}: '{}' is not one of {}", dim, v, fmt::join(known, ", ")));
      }
    }
  }
  std::vector<GgmlCombination> out{GgmlCombination{}};
  for (const auto& dim : names) {
    const auto it = allowed.find(dim);
    const auto values = it == allowed.end() ? dimension_values(dim) : it->second;
    std::vector<GgmlCombination> next;
    for (const auto& partial : out) {
      for (const auto& v : values) {
        GgmlCombination c = partial;
        if (dim == kBuffers) c.buffers = *layout::parse<WeightBuffers>(v);
        else layout::ggml::set_ggml_prep_dimension(c.prep, dim, v);
        next.push_back(c);
      }
    }
    out = std::move(next);
  }
  return out;
}

GgmlDerivation derive(const GgmlCombination& c) {
  if (c.stack) return {true, ""};  // the hypothesis under test: the stack's preparation is right
  const auto e = layout::ggml::derive_ggml_prep_effect(c.prep);
  if (!e.weight_rows_right) return {false, "gate/up code rows: ggml reads gate or up row j from another checkpoint row than 2j / 2j+1"};
  if (!e.elements_right) return {false, "block elements: ggml's element k of a 32-block is not the checkpoint's element k (nibble packing)"};
  if (!e.scale_rows_right) return {false, "gate/up scales: a row's E8M0 scales come from another checkpoint row than its code bytes"};
  if (e.scale_exponent_shift != 0) {
    return {false, fmt::format("E8M0 scales: every value read is 2^{} times the checkpoint's", e.scale_exponent_shift)};
  }
  if (!e.bias_rows_right) return {false, "gate/up biases: ggml adds bias j from another checkpoint entry than 2j / 2j+1"};
  return {true, ""};
}

}  // namespace mxg::matrix::ggml
