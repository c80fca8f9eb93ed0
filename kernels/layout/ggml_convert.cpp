// prepare_ggml_experts and its inverse: the steps of ggml_layout.hpp composed per GgmlPrep, and
// the shape checks of both sides.
#include "kernels/layout/ggml_convert.hpp"

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/layout/ggml_layout.hpp"

namespace mxg::layout::ggml {

namespace {

[[noreturn]] void bad(std::string_view source, std::string_view tensor, std::string_view what) {
  throw InputError(fmt::format("{}: {} {}", source, tensor, what));
}

void expect_present(std::string_view source, std::string_view name, const Tensor& t) {
  if (t.empty()) bad(source, name, "is missing");
}

void expect_absent(std::string_view source, std::string_view name, const Tensor& t, std::string_view why) {
  if (!t.empty()) bad(source, name, fmt::format("must be absent ({})", why));
}

void expect_byte_dtype(std::string_view source, std::string_view name, const Tensor& t) {
  if (t.dtype() != DType::U8) {
    bad(source, name, fmt::format("has dtype {}, expected U8 (packed MXFP4 / E8M0 bytes)", dtype_name(t.dtype())));
  }
}

void expect_shape(std::string_view source, std::string_view name, const Tensor& t, const Shape& want,
                  std::string_view pattern) {
  if (t.shape() != want) {
    bad(source, name, fmt::format("has shape {}, expected {} ({})", shape_string(t.shape()), shape_string(want), pattern));
  }
}

void expect_bias(std::string_view source, std::string_view name, const Tensor& t, const Shape& want,
                 std::string_view pattern, bool f32_only) {
  expect_present(source, name, t);
  const bool ok = t.dtype() == DType::F32 || (!f32_only && (t.dtype() == DType::BF16 || t.dtype() == DType::F16));
  if (!ok) bad(source, name, fmt::format("has dtype {}, expected {}", dtype_name(t.dtype()), f32_only ? "F32" : "F32, BF16 or F16"));
  expect_shape(source, name, t, want, pattern);
}

// [E, rows, K/32, 16] code bytes: returns {E, rows, K/32}.
Shape checkpoint_block_dims(std::string_view source, std::string_view name, const Tensor& t, std::string_view pattern) {
  expect_present(source, name, t);
  expect_byte_dtype(source, name, t);
  if (t.rank() != 4 || t.dim(3) != kCodeBytes) {
    bad(source, name, fmt::format("has shape {}, expected {}", shape_string(t.shape()), pattern));
  }
  return {t.dim(0), t.dim(1), t.dim(2)};
}

// [E, rows, K/32 * 17] converted weights: returns {E, rows, K/32}.
Shape converted_dims(std::string_view source, std::string_view name, const Tensor& t, std::string_view pattern) {
  expect_present(source, name, t);
  expect_byte_dtype(source, name, t);
  if (t.rank() != 3 || t.dim(2) % kBlockBytes != 0) {
    bad(source, name, fmt::format("has shape {}, expected {} (whole {}-byte blocks)", shape_string(t.shape()), pattern,
                                  kBlockBytes));
  }
  return {t.dim(0), t.dim(1), t.dim(2) / kBlockBytes};
}

// One weight through the prep's per-block steps: nibble transform, scale byte, packing.
Tensor convert_weight(const Tensor& codes, const Tensor& scales, const GgmlPrep& prep, std::string_view label,
                      Threads threads) {
  const Tensor c = prep.nibbles == NibbleTransform::applied ? to_ggml_nibbles(codes, label, threads) : codes;
  return pack_blocks(c, convert_scale_bytes(scales, prep.scale_byte, label), label, threads);
}

BlockParts unconvert_weight(const Tensor& packed, const GgmlPrep& prep, std::string_view label, Threads threads) {
  BlockParts p = unpack_blocks(packed, label, threads);
  if (prep.nibbles == NibbleTransform::applied) p.codes = to_checkpoint_nibbles(p.codes, label, threads);
  p.scales = undo_scale_bytes(p.scales, prep.scale_byte, label);
  return p;
}

}  // namespace

ExpertGeometry check_checkpoint_experts(const CheckpointExperts& ck, std::string_view source) {
  const Shape gu = checkpoint_block_dims(source, "gate_up_blocks", ck.gate_up_blocks, "[E, 2I, H/32, 16]");
  if (gu[1] % 2 != 0) {
    bad(source, "gate_up_blocks", fmt::format("has {} rows (dim 1), expected an even 2I", gu[1]));
  }
  const Shape dn = checkpoint_block_dims(source, "down_blocks", ck.down_blocks, "[E, H, I/32, 16]");
  const ExpertGeometry g{gu[0], gu[2] * kBlockElems, gu[1] / 2};
  const Shape down_want{g.experts, g.hidden, g.intermediate / kBlockElems, kCodeBytes};
  if (g.intermediate % kBlockElems != 0 || dn != Shape{down_want[0], down_want[1], down_want[2]}) {
    bad(source, "down_blocks",
        fmt::format("has shape {}, but gate_up_blocks {} gives E = {}, H = {}, I = {}: expected [E, H, I/32, 16]{}",
                    shape_string(ck.down_blocks.shape()), shape_string(ck.gate_up_blocks.shape()), g.experts, g.hidden,
                    g.intermediate, g.intermediate % kBlockElems != 0 ? " with I a multiple of 32" : ""));
  }
  expect_present(source, "gate_up_scales", ck.gate_up_scales);
  expect_byte_dtype(source, "gate_up_scales", ck.gate_up_scales);
  expect_shape(source, "gate_up_scales", ck.gate_up_scales, {g.experts, 2 * g.intermediate, g.hidden / kBlockElems},
               "[E, 2I, H/32]");
  expect_present(source, "down_scales", ck.down_scales);
  expect_byte_dtype(source, "down_scales", ck.down_scales);
  expect_shape(source, "down_scales", ck.down_scales, {g.experts, g.hidden, g.intermediate / kBlockElems},
               "[E, H, I/32]");
  expect_bias(source, "gate_up_bias", ck.gate_up_bias, {g.experts, 2 * g.intermediate}, "[E, 2I]", false);
  expect_bias(source, "down_bias", ck.down_bias, {g.experts, g.hidden}, "[E, H]", false);
  return g;
}

ExpertGeometry check_ggml_experts(const GgmlExperts& x, std::string_view source) {
  const Shape dn = converted_dims(source, "down", x.down, "[E, H, I/32 * 17]");
  const ExpertGeometry g{dn[0], dn[1], dn[2] * kBlockElems};
  const Shape weight{g.experts, g.intermediate, ggml::row_bytes(g.hidden)};
  const auto check_gate_up_weight = [&](std::string_view name, const Tensor& t, std::int64_t rows, std::string_view pattern) {
    const Shape d = converted_dims(source, name, t, pattern);
    if (d != Shape{g.experts, rows, weight[2] / kBlockBytes} || g.hidden % kBlockElems != 0) {
      bad(source, name,
          fmt::format("has shape {}, but down {} gives E = {}, H = {}, I = {}: expected {}", shape_string(t.shape()),
                      shape_string(x.down.shape()), g.experts, g.hidden, g.intermediate, pattern));
    }
  };
  if (x.merged()) {
    expect_absent(source, "gate", x.gate, "gate_up holds it");
    expect_absent(source, "up", x.up, "gate_up holds it");
    expect_absent(source, "gate_bias", x.gate_bias, "gate_up_bias holds it");
    expect_absent(source, "up_bias", x.up_bias, "gate_up_bias holds it");
    check_gate_up_weight("gate_up", x.gate_up, 2 * g.intermediate, "[E, 2I, H/32 * 17]");
    expect_bias(source, "gate_up_bias", x.gate_up_bias, {g.experts, 2 * g.intermediate}, "[E, 2I]", true);
  } else {
    expect_absent(source, "gate_up_bias", x.gate_up_bias, "gate and up are separate");
    check_gate_up_weight("gate", x.gate, g.intermediate, "[E, I, H/32 * 17]");
    check_gate_up_weight("up", x.up, g.intermediate, "[E, I, H/32 * 17]");
    expect_bias(source, "gate_bias", x.gate_bias, {g.experts, g.intermediate}, "[E, I]", true);
    expect_bias(source, "up_bias", x.up_bias, {g.experts, g.intermediate}, "[E, I]", true);
  }
  expect_bias(source, "down_bias", x.down_bias, {g.experts, g.hidden}, "[E, H]", true);
  return g;
}

GgmlExperts prepare_ggml_experts(const CheckpointExperts& ck, const GgmlPrep& prep, std::string_view source,
                                 Threads threads) {
  check_checkpoint_experts(ck, source);
  const std::string gate_label = fmt::format("{}: gate", source), up_label = fmt::format("{}: up", source);
  const std::string down_label = fmt::format("{}: down", source), bias_label = fmt::format("{}: gate_up_bias", source);

  const GateUpPair codes = split_gate_up(ck.gate_up_blocks, prep.split, gate_label);
  const GateUpPair scales = split_gate_up(ck.gate_up_scales, effective_split(prep.scale_split, prep.split), gate_label);
  GateUpPair weights{convert_weight(codes.gate, scales.gate, prep, gate_label, threads),
                     convert_weight(codes.up, scales.up, prep, up_label, threads)};
  GateUpPair biases = split_gate_up(bias_to_f32(ck.gate_up_bias, bias_label),
                                    effective_split(prep.bias_split, prep.split), bias_label);

  GgmlExperts out;
  out.down = convert_weight(ck.down_blocks, ck.down_scales, prep, down_label, threads);
  out.down_bias = bias_to_f32(ck.down_bias, fmt::format("{}: down_bias", source));
  if (prep.form == GateUpForm::merged) {
    out.gate_up = merge_gate_up(weights, gate_label);
    out.gate_up_bias = merge_gate_up(biases, bias_label);
  } else {
    out.gate = std::move(weights.gate);
    out.up = std::move(weights.up);
    out.gate_bias = std::move(biases.gate);
    out.up_bias = std::move(biases.up);
  }
  return out;
}

GgmlExperts convert_checkpoint_experts(const CheckpointExperts& ck, std::string_view source, Threads threads) {
  return prepare_ggml_experts(ck, GgmlPrep{}, source, threads);
}

CheckpointExperts unprepare_ggml_experts(const GgmlExperts& g, const GgmlPrep& prep, std::string_view source,
                                         Threads threads) {
  check_ggml_experts(g, source);
  if (g.merged() != (prep.form == GateUpForm::merged)) {
    throw InputError(fmt::format("{}: gate/up are {} but the prep says form={}", source,
                                 g.merged() ? "merged" : "separate", to_string(prep.form)));
  }
  const std::string label = fmt::format("{}: gate_up", source);
  const GateUpPair weights = g.merged() ? unmerge_gate_up(g.gate_up, label) : GateUpPair{g.gate, g.up};
  const GateUpPair biases = g.merged() ? unmerge_gate_up(g.gate_up_bias, label) : GateUpPair{g.gate_bias, g.up_bias};
  const BlockParts gate = unconvert_weight(weights.gate, prep, label, threads);
  const BlockParts up = unconvert_weight(weights.up, prep, label, threads);
  const BlockParts down = unconvert_weight(g.down, prep, fmt::format("{}: down", source), threads);

  CheckpointExperts ck;
  ck.gate_up_blocks = join_gate_up({gate.codes, up.codes}, prep.split, label);
  ck.gate_up_scales = join_gate_up({gate.scales, up.scales}, effective_split(prep.scale_split, prep.split), label);
  ck.gate_up_bias = join_gate_up(biases, effective_split(prep.bias_split, prep.split), label);
  ck.down_blocks = down.codes;
  ck.down_scales = down.scales;
  ck.down_bias = g.down_bias;
  return ck;
}

}  // namespace mxg::layout::ggml
