// `mxguard layout ggml-convert`: one layer's checkpoint experts -> the GgmlExperts tensors of
// llama.cpp's GPT-OSS converter, or of one of its bug variants (a GgmlPrep), and back. Registers
// itself as a child of `layout` (layout.cpp), after it.
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/command.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/layout/ggml_experts_io.hpp"

namespace mxg::cli {
namespace {

namespace gg = layout::ggml;

struct GgmlConvertOptions {
  std::string in, out, prep_id;
  std::optional<int> layer;
  std::string split, scale_split, bias_split, nibbles, scale_byte, form;
  bool inverse = false;
  unsigned threads = 0;

  gg::GgmlPrep prep() const {
    gg::GgmlPrep p = gg::parse_ggml_prep_id(prep_id);
    const std::pair<const char*, const std::string*> given[] = {{"split", &split},     {"scale_split", &scale_split},
                                                                {"bias_split", &bias_split}, {"nibbles", &nibbles},
                                                                {"scale_byte", &scale_byte}, {"form", &form}};
    for (const auto& [dimension, value] : given) {
      if (!value->empty()) gg::set_ggml_prep_dimension(p, dimension, *value);
    }
    return p;
  }
};

std::string effect_text(const gg::GgmlPrep& p) {
  const gg::GgmlPrepEffect fx = gg::derive_ggml_prep_effect(p);
  if (fx.consistent()) return "consistent: ggml reads the checkpoint's values (llama.cpp's converter)";
  std::string wrong;
  auto add = [&](bool bad, std::string_view what) {
    if (!bad) return;
    if (!wrong.empty()) wrong += ", ";
    wrong += what;
  };
  add(!fx.weight_rows_right, "gate/up weight rows");
  add(!fx.scale_rows_right, "gate/up scale rows");
  add(!fx.bias_rows_right, "gate/up bias rows");
  add(!fx.elements_right, "element order inside blocks");
  if (fx.scale_exponent_shift != 0) wrong += fmt::format("{}every scale x2^{}", wrong.empty() ? "" : ", ", fx.scale_exponent_shift);
  return "INCONSISTENT (a converter bug): wrong " + wrong;
}

int ggml_convert(const GgmlConvertOptions& o) {
  const gg::GgmlPrep prep = o.prep();
  const std::string id = gg::ggml_prep_id(prep);
  const layout::Threads threads{o.threads};
  const std::map<std::string, std::string> metadata{{"mxguard.ggml.prep", id}, {"mxguard.ggml.source", o.in}};
  if (o.inverse) {
    const gg::GgmlExperts g = gg::load_ggml_experts(o.in);
    gg::write_checkpoint_experts(o.out, gg::unprepare_ggml_experts(g, prep, o.in, threads), metadata);
    fmt::print("{} (inverse): {} -> checkpoint tensors gate_up_blocks, gate_up_scales, gate_up_bias, down_blocks, "
               "down_scales, down_bias, written to {}\n",
               id, o.in, o.out);
    return exit_code::kPass;
  }
  const gg::CheckpointExperts ck = gg::read_checkpoint_experts(SafetensorsFile::open(o.in), o.layer);
  const gg::ExpertGeometry geo = gg::check_checkpoint_experts(ck, o.in);
  const gg::GgmlExperts g = gg::prepare_ggml_experts(ck, prep, o.in, threads);
  gg::save_ggml_experts(o.out, g, metadata);
  fmt::print("{}\n  E = {}, H = {}, I = {}; {}\n  written to {}: {}\n", id, geo.experts, geo.hidden, geo.intermediate,
             effect_text(prep), o.out,
             g.merged() ? "gate_up, gate_up_bias, down, down_bias" : "gate, up, down, gate_bias, up_bias, down_bias");
  return exit_code::kPass;
}

template <class E>
CLI::Option* add_dimension(CLI::App* cmd, const std::string& flag, std::string& target, const std::string& help) {
  return cmd->add_option(flag, target, fmt::format("{} ({}; default {})", help, layout::allowed_list<E>(),
                                                   layout::to_string(E{})))
      ->check(CLI::IsMember(layout::allowed_values<E>()));
}

}  // namespace

void add_layout_ggml_convert_command(CLI::App& app, Action& action) {
  auto* layout_cmd = app.get_subcommand("layout");
  auto o = std::make_shared<GgmlConvertOptions>();
  auto* cmd = layout_cmd->add_subcommand(
      "ggml-convert",
      "Convert one MoE layer's checkpoint experts the way llama.cpp's GPT-OSS converter does\n"
      "(conversion/gpt_oss.py): gate_up rows split into gate = rows[0::2] and up = rows[1::2] (code\n"
      "bytes, scales and biases), the nibble transform, block_mxfp4 packing (scale byte, then 16 code\n"
      "bytes: byte j = element j low, element j+16 high), biases widened to F32. The options pick a\n"
      "bug variant instead: what a broken converter or loader would have written. --inverse reads such\n"
      "a file back into checkpoint tensors (every variant is a bijection).\n"
      "Input: the canonical names gate_up_blocks U8 [E, 2I, H/32, 16], gate_up_scales U8 [E, 2I, H/32],\n"
      "gate_up_bias [E, 2I], down_blocks U8 [E, H, I/32, 16], down_scales, down_bias (F32/BF16/F16\n"
      "biases), or with --layer L a Hugging Face GPT-OSS file's model.layers.L.mlp.experts.*_proj_*.\n"
      "Output: gate, up U8 [E, I, H/32*17], down U8 [E, H, I/32*17], gate_bias, up_bias, down_bias F32\n"
      "(--form merged: gate_up U8 [E, 2I, H/32*17] and gate_up_bias instead of gate and up); the\n"
      "prep id is in the file's metadata (mxguard.ggml.prep).");
  cmd->add_option("--in", o->in, "Input safetensors file (checkpoint tensors; with --inverse, ggml experts)")
      ->required();
  cmd->add_option("--out", o->out, "Output safetensors file")->required();
  cmd->add_option("--layer", o->layer, "Read the Hugging Face names of this layer")->check(CLI::NonNegativeNumber);
  cmd->add_option("--prep", o->prep_id,
                  "A whole prep id, e.g. split=swapped/scale_byte=halved (the flags below override its parts)");
  add_dimension<gg::GateUpSplit>(cmd, "--split", o->split, "How the gate_up code bytes are cut into gate and up");
  add_dimension<gg::CompanionSplit>(cmd, "--scale-split", o->scale_split, "How the gate_up scales are cut");
  add_dimension<gg::CompanionSplit>(cmd, "--bias-split", o->bias_split, "How the gate_up biases are cut");
  add_dimension<gg::NibbleTransform>(cmd, "--nibbles", o->nibbles, "Nibble transform of the code bytes");
  add_dimension<gg::ScaleByte>(cmd, "--scale-byte", o->scale_byte,
                               "E8M0 byte as written: right, one exponent lower (halved) or higher (doubled)");
  add_dimension<gg::GateUpForm>(cmd, "--form", o->form, "Gate and up as two tensors or one merged [gate | up]");
  cmd->add_flag("--inverse", o->inverse, "Undo the given prep: ggml experts file -> checkpoint tensors");
  cmd->add_option("--threads", o->threads, "Threads (0 = every core)")->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  # llama.cpp's converter on layer 3 of a GPT-OSS checkpoint shard\n"
      "  mxguard layout ggml-convert --in model-00001.safetensors --layer 3 --out l3-ggml.safetensors\n"
      "  # the converter with gate and up swapped, and the scales written one exponent low\n"
      "  mxguard layout ggml-convert --in layer.safetensors --split swapped --scale-byte halved --out bad.safetensors\n"
      "  # back to checkpoint tensors\n"
      "  mxguard layout ggml-convert --inverse --in l3-ggml.safetensors --out l3.safetensors\n"
      "Exit codes: 0 written, 2 bad input (missing file or tensor, shapes that disagree, unknown value)\n");
  cmd->callback([&action, o] { action = [o] { return ggml_convert(*o); }; });
}

}  // namespace mxg::cli
