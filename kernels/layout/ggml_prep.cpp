// GgmlPrep ids, dimension setters, and the derivation of what ggml reads under a prep.
#include "kernels/layout/ggml_prep.hpp"

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::layout::ggml {

namespace {

template <class E>
void set_from(E& field, std::string_view dimension, std::string_view value) {
  const auto v = parse<E>(value);
  if (!v) throw InputError(fmt::format("{} = '{}': expected {}", dimension, value, allowed_list<E>()));
  field = *v;
}

// Which (half, row) of the merged form's two halves is read as row j of `half` when ggml views the
// merged tensor's rows [0, I) as gate and [I, 2I) as up: merge_gate_up writes half h row i at row
// gate_up_source_row(halves, h, i); the search inverts that write instead of assuming it.
std::pair<GateUpHalf, std::int64_t> merged_read(GateUpHalf half, std::int64_t j, std::int64_t rows) {
  const std::int64_t viewed = static_cast<std::int64_t>(half) * (rows / 2) + j;
  for (GateUpHalf h : {GateUpHalf::gate, GateUpHalf::up}) {
    for (std::int64_t i = 0; i < rows / 2; ++i) {
      if (gate_up_source_row(GateUpSplit::halves, h, i, rows) == viewed) return {h, i};
    }
  }
  return {half, -1};  // unreachable for a bijective merge; reported as a wrong row
}

}  // namespace

std::string ggml_prep_id(const GgmlPrep& p) {
  return fmt::format("split={}/scale_split={}/bias_split={}/nibbles={}/scale_byte={}/form={}", to_string(p.split),
                     to_string(p.scale_split), to_string(p.bias_split), to_string(p.nibbles), to_string(p.scale_byte),
                     to_string(p.form));
}

void set_ggml_prep_dimension(GgmlPrep& p, std::string_view dimension, std::string_view value) {
  if (dimension == "split") return set_from(p.split, dimension, value);
  if (dimension == "scale_split") return set_from(p.scale_split, dimension, value);
  if (dimension == "bias_split") return set_from(p.bias_split, dimension, value);
  if (dimension == "nibbles") return set_from(p.nibbles, dimension, value);
  if (dimension == "scale_byte") return set_from(p.scale_byte, dimension, value);
  if (dimension == "form") return set_from(p.form, dimension, value);
  throw InputError(fmt::format("ggml prep: unknown dimension '{}' (expected split, scale_split, bias_split, nibbles, "
                               "scale_byte or form)",
                               dimension));
}

GgmlPrep parse_ggml_prep_id(std::string_view id) {
  GgmlPrep p;
  while (!id.empty()) {
    const auto slash = id.find('/');
    const std::string_view part = id.substr(0, slash);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      throw InputError(fmt::format("ggml prep id: '{}' is not dimension=value", part));
    }
    set_ggml_prep_dimension(p, part.substr(0, eq), part.substr(eq + 1));
    id = slash == std::string_view::npos ? std::string_view{} : id.substr(slash + 1);
  }
  return p;
}

GgmlPrepEffect derive_ggml_prep_effect(const GgmlPrep& p) {
  // A generic expert: I = 4 units (2I = 8 gate_up rows), one 32-element block per row. The
  // checkpoint truth is LAYOUTS.md §3's: gate unit j is row 2j, up unit j is row 2j + 1.
  constexpr std::int64_t kRows = 8;
  GgmlPrepEffect fx;
  for (GateUpHalf half : {GateUpHalf::gate, GateUpHalf::up}) {
    for (std::int64_t j = 0; j < kRows / 2; ++j) {
      const std::int64_t truth = 2 * j + static_cast<std::int64_t>(half);
      // The merged form adds its own write and read of the rows before the split's.
      const auto [h, i] = p.form == GateUpForm::merged ? merged_read(half, j, kRows) : std::pair{half, j};
      if (i < 0) {
        fx.weight_rows_right = fx.scale_rows_right = fx.bias_rows_right = false;
        continue;
      }
      if (gate_up_source_row(p.split, h, i, kRows) != truth) fx.weight_rows_right = false;
      if (gate_up_source_row(effective_split(p.scale_split, p.split), h, i, kRows) != truth) fx.scale_rows_right = false;
      if (gate_up_source_row(effective_split(p.bias_split, p.split), h, i, kRows) != truth) fx.bias_rows_right = false;
    }
  }
  // ggml reads element k at ggml_nibble(k). With the transform, that nibble holds the element the
  // transform moved there; without it, the checkpoint's own nibble at that position.
  for (std::int64_t k = 0; k < kBlockElems; ++k) {
    const NibbleAt read = ggml_nibble(k);
    const std::int64_t element =
        p.nibbles == NibbleTransform::applied ? ggml_element(read) : checkpoint_element(read);
    if (element != k) fx.elements_right = false;
  }
  constexpr std::uint8_t kOne = 127;  // E8M0 1.0
  fx.scale_exponent_shift = static_cast<int>(converted_scale_byte(kOne, p.scale_byte)) - kOne;
  return fx;
}

}  // namespace mxg::layout::ggml
