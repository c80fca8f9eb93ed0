// `mxguard layout apply | explain | tp-table`: run one layout transform of LAYOUTS.md §4–§7 on a
// safetensors tensor, trace single elements through it, and print the tensor-parallel slice table.
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/layout/explain.hpp"
#include "kernels/layout/transform.hpp"
#include "kernels/tensor/safetensors.hpp"

namespace mxg::cli {
namespace {

using layout::Transform;
using layout::TransformSpec;

// Options shared by `apply` and `explain`, as the user typed them.
struct TransformOptions {
  std::string transform;
  std::optional<std::int64_t> experts, rows, cols, intermediate, hidden;
  bool gate_up = false, gu_interleave = false, inverse = false;
  std::int64_t tp = 1, rank = 0;
  std::optional<std::string> kind;
  unsigned threads = 0;

  TransformSpec spec() const {
    TransformSpec s;
    s.transform = *layout::parse_transform(transform);  // CLI::IsMember checked the spelling
    s.inverse = inverse;
    s.experts = experts;
    s.shuffle = {gu_interleave ? layout::TileMode::interleaved : layout::TileMode::separated, gate_up};
    s.original_rows = rows;
    s.original_cols = cols;
    s.tp = tp;
    s.rank = rank;
    if (kind) s.kind = layout::parse_expert_tensor(*kind);
    s.dims = {intermediate, hidden};
    return s;
  }
};

std::string describe(const TransformSpec& s) {
  std::string d(layout::transform_name(s.transform));
  if (s.transform == Transform::shuffle_weight || s.transform == Transform::shuffle_scale) {
    d += fmt::format(" ({} tiles{})", layout::tile_mode_name(s.shuffle.mode), s.shuffle.gate_up ? ", gate_up" : "");
  }
  if (s.transform == Transform::tp_slice) d += fmt::format(" (tp {}, rank {})", s.tp, s.rank);
  return s.inverse ? d + " --inverse" : d;
}

void add_transform_options(CLI::App* cmd, TransformOptions& o) {
  cmd->add_option("transform", o.transform,
                  "deinterleave | interleave | shuffle-weight | shuffle-scale | tp-slice")
      ->required()
      ->check(CLI::IsMember({"deinterleave", "interleave", "shuffle-weight", "shuffle-scale", "tp-slice"}));
  cmd->add_option("--experts", o.experts,
                  "Expert count E of a stacked 2-D [E*rows, cols] tensor (AITER's 2-D scales). Without it a\n"
                  "2-D tensor is a bias [E, rows] (interleave/deinterleave) or one matrix (shuffles).\n"
                  "With shuffle-scale --inverse: the E of the unpadded tensor (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--gate-up", o.gate_up,
                "The tensor is w13 in [gate | up] halves (de-interleaved). Matters only with --gu-interleave");
  cmd->add_flag("--gu-interleave", o.gu_interleave,
                "Interleaved tiles (AITER is_guinterleave=True); default: separated tiles");
  cmd->add_flag("--inverse", o.inverse, "Apply the exact inverse (tp-slice has none)");
  cmd->add_option("--rows", o.rows, "shuffle-scale --inverse: rows per expert of the unpadded scales")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cols", o.cols, "shuffle-scale --inverse: cols of the unpadded scales")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tp", o.tp, "tp-slice: tensor-parallel size")->capture_default_str()->check(parallel_size());
  cmd->add_option("--rank", o.rank, "tp-slice: this rank, 0 <= rank < tp")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kind", o.kind,
                  "tp-slice: which checkpoint tensor this is (default: from the tensor name's suffix)")
      ->check(CLI::IsMember({"gate_up_proj_blocks", "gate_up_proj_scales", "gate_up_proj_bias", "down_proj_blocks",
                             "down_proj_scales", "down_proj_bias"}));
  cmd->add_option("--intermediate", o.intermediate,
                  "tp-slice: I, where the shape does not fix it (a down_proj_bias); must agree otherwise");
  cmd->add_option("--hidden", o.hidden,
                  "tp-slice: H, where the shape does not fix it (a gate_up_proj_bias); must agree otherwise");
}

// ---- apply -----------------------------------------------------------------------------------

struct ApplyOptions : TransformOptions {
  std::string in, tensor, out;
};

int layout_apply(const ApplyOptions& o) {
  const TransformSpec spec = o.spec();
  const auto file = SafetensorsFile::open(o.in);
  const Tensor t = file.get(o.tensor);
  const std::string label = fmt::format("{}: tensor '{}'", o.in, o.tensor);
  const Tensor result = layout::apply_transform(spec, t, o.tensor, label, layout::Threads{o.threads});
  write_safetensors(o.out, {{o.tensor, result}},
                    {{"mxguard.layout", describe(spec)}, {"mxguard.layout.source", o.in}});
  fmt::print("{}: {} {} {} -> {} {}, written to {}\n", describe(spec), o.tensor, shape_string(t.shape()),
             dtype_name(t.dtype()), shape_string(result.shape()), dtype_name(result.dtype()), o.out);
  return exit_code::kPass;
}

void add_apply(CLI::App* layout_cmd, Action& action) {
  auto o = std::make_shared<ApplyOptions>();
  auto* cmd = layout_cmd->add_subcommand(
      "apply",
      "Apply one layout transform to tensor NAME of a safetensors file and write the result, under the\n"
      "same name and dtype, to OUT (LAYOUTS.md §4-§7):\n"
      "  deinterleave    w13 rows [g0,u0,g1,u1,...] -> [gate | up] halves, per expert (weights, scales,\n"
      "                  biases); interleave is its inverse\n"
      "  shuffle-weight  AITER 16x16-byte tiles of packed MXFP4 [E, rows, K/2] (or [E, rows, K/32, 16]);\n"
      "                  --gu-interleave --gate-up first alternates 16-row gate/up blocks (w13)\n"
      "  shuffle-scale   AITER E8M0 scale shuffle; writes the padded 2-D [rows, cols] AITER uses\n"
      "                  (separated: rows to 256, cols to 8; interleaved: cols to 8), padding 0x7F.\n"
      "                  --inverse needs the unpadded geometry: --experts E --rows ROWS_PER_EXPERT --cols C\n"
      "  tp-slice        what rank R of tp N loads from a checkpoint expert tensor, zero-padded to the\n"
      "                  AITER buffer (I_p = round_up(I/tp, 256), H_p = round_up(H, 256))\n"
      "A shape the transform cannot take exits 2 with the file, tensor, dimension, value and the\n"
      "multiple it needs.");
  add_transform_options(cmd, *o);
  cmd->add_option("--in", o->in, "Input safetensors file")->required();
  cmd->add_option("--tensor", o->tensor, "Name of the tensor to transform")->required();
  cmd->add_option("--out", o->out, "Output safetensors file (holds the one transformed tensor)")->required();
  cmd->add_option("--threads", o->threads, "Threads (0 = every core)")->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  # SGLang's separated pipeline for one layer's w13: de-interleave, then separated tiles\n"
      "  mxguard layout apply deinterleave --in ckpt.safetensors --tensor model.layers.0.mlp.experts."
      "gate_up_proj_blocks --out w13.safetensors\n"
      "  mxguard layout apply shuffle-weight --in w13.safetensors --tensor model.layers.0.mlp.experts."
      "gate_up_proj_blocks --out w13_tiles.safetensors\n"
      "  # interleaved tiles of w13 ([gate | up] input), and back\n"
      "  mxguard layout apply shuffle-weight --gu-interleave --gate-up --in w13.safetensors --tensor W --out t.st\n"
      "  mxguard layout apply shuffle-weight --gu-interleave --gate-up --inverse --in t.st --tensor W --out w13.st\n"
      "  # 2-D scales [E*rows, cols] of 32 experts, interleaved, and the inverse back to [32*rows, 90]\n"
      "  mxguard layout apply shuffle-scale --gu-interleave --gate-up --experts 32 --in s.st --tensor S --out t.st\n"
      "  mxguard layout apply shuffle-scale --gu-interleave --gate-up --inverse --experts 32 --rows 5760 "
      "--cols 90 --in t.st --tensor S --out s2.st\n"
      "  # rank 3 of tp 4 of the checkpoint's down_proj_scales\n"
      "  mxguard layout apply tp-slice --tp 4 --rank 3 --in ckpt.safetensors --tensor "
      "model.layers.0.mlp.experts.down_proj_scales --out r3.safetensors\n"
      "Exit codes: 0 written, 2 bad input (missing file or tensor, shape the transform cannot take)\n");
  cmd->callback([&action, o] { action = [o] { return layout_apply(*o); }; });
}

// ---- explain ---------------------------------------------------------------------------------

struct ExplainOptions : TransformOptions {
  std::string shape_text, in, tensor = "tensor";
  std::int64_t expert = 0, row = 0, col = 0;
};

Shape parse_shape(const std::string& text) {
  Shape shape;
  std::string token;
  auto flush = [&] {
    if (token.empty()) return;
    try {
      std::size_t used = 0;
      shape.push_back(std::stoll(token, &used));
      if (used != token.size()) throw std::invalid_argument(token);
    } catch (const std::exception&) {
      throw InputError(fmt::format("--shape '{}': '{}' is not a dimension", text, token));
    }
    token.clear();
  };
  for (char c : text) {
    if (c == ',' || c == 'x' || c == ' ' || c == '[' || c == ']') {
      flush();
    } else {
      token += c;
    }
  }
  flush();
  if (shape.empty()) throw InputError(fmt::format("--shape '{}': no dimensions", text));
  // Every index the transforms compute (expert * rows * cols + ...) must fit int64: bound each
  // dimension and the element count (a 2^62 dimension printed "col -1" before).
  constexpr std::int64_t kMaxDim = std::int64_t{1} << 31, kMaxElements = std::int64_t{1} << 48;
  std::int64_t elements = 1;
  for (const std::int64_t d : shape) {
    if (d < 1 || d > kMaxDim) throw InputError(fmt::format("--shape '{}': dimension {} is not in [1, {}]", text, d, kMaxDim));
    if (__builtin_mul_overflow(elements, d, &elements) || elements > kMaxElements) {
      throw InputError(fmt::format("--shape '{}': more than {} elements", text, kMaxElements));
    }
  }
  return shape;
}

void print_trace(std::string_view from_side, const layout::Coord& at, std::string_view arrow,
                 std::string_view to_side, const layout::Trace& t) {
  const std::string here = fmt::format("{} expert {} row {} col {}", from_side, at.expert, at.row, at.col);
  if (t.at) {
    fmt::print("{} {} {} expert {} row {} col {}\n    {}\n", here, arrow, to_side, t.at->expert, t.at->row,
               t.at->col, t.detail);
  } else {
    fmt::print("{} {} none\n    {}\n", here, arrow, t.detail);
  }
}

int layout_explain(const ExplainOptions& o) {
  const TransformSpec spec = o.spec();
  if (o.in.empty() == o.shape_text.empty()) {
    throw InputError("layout explain: give the input's shape with --shape, or --in FILE --tensor NAME");
  }
  Shape shape;
  std::string label;
  if (!o.in.empty()) {
    shape = SafetensorsFile::open(o.in).get(o.tensor).shape();
    label = fmt::format("{}: tensor '{}'", o.in, o.tensor);
  } else {
    shape = parse_shape(o.shape_text);
    label = fmt::format("--shape {}", shape_string(shape));
  }
  const layout::Coord at{o.expert, o.row, o.col};
  const layout::Explanation x = layout::explain_transform(spec, shape, o.tensor, at, label);
  auto grid = [](const layout::Grid& g, const std::string& note) {
    return fmt::format("[{}, {}, {}] (experts x rows x cols){}", g.experts, g.rows, g.cols,
                       note.empty() ? "" : ": " + note);
  };
  fmt::print("{}\n", x.transform);
  fmt::print("input  {}\noutput {}\n", grid(x.input, x.input_note), grid(x.output, x.output_note));
  print_trace("input ", at, "->", "output", x.lands);
  print_trace("output", at, "<-", "input ", x.source);
  return exit_code::kPass;
}

void add_explain(CLI::App* layout_cmd, Action& action) {
  auto o = std::make_shared<ExplainOptions>();
  auto* cmd = layout_cmd->add_subcommand(
      "explain",
      "Trace one element through a layout transform, both ways: where the input element at\n"
      "(--expert, --row, --col) lands in the output, and where the output element at the same\n"
      "coordinates came from, with the tile (weights), 32x8 block (scales) or rank slice (tp-slice)\n"
      "it passes through. Takes the same transform options as `apply`; the input's shape comes from\n"
      "--shape or from a tensor in a file. Rows and cols are per expert; cols are bytes for packed\n"
      "weights and scales and elements for biases (a bias row has one col).");
  add_transform_options(cmd, *o);
  cmd->add_option("--shape", o->shape_text, "Input shape, e.g. 32,5760,1440 or [32, 5760, 90, 16]");
  cmd->add_option("--in", o->in, "Take the shape from a safetensors file (with --tensor)");
  cmd->add_option("--tensor", o->tensor,
                  "Tensor name: read from --in, and tells tp-slice the tensor kind by its suffix")
      ->capture_default_str();
  cmd->add_option("--expert", o->expert, "Expert of the element")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--row", o->row, "Row of the element (within its expert)")->required()->check(CLI::NonNegativeNumber);
  cmd->add_option("--col", o->col, "Column of the element (byte, or element for biases)")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Examples:\n"
      "  # where does byte 35 of row 17 go in separated tiles, and what lands there?\n"
      "  mxguard layout explain shuffle-weight --shape 1,32,64 --row 17 --col 35\n"
      "  # interleaved w13 tiles of a tp-8 rank: gate row 3 of unit block 0\n"
      "  mxguard layout explain shuffle-weight --gu-interleave --gate-up --shape 128,1024,1536 --row 3 --col 0\n"
      "  # which scale byte of the 2-D shuffled tensor is padding?\n"
      "  mxguard layout explain shuffle-scale --shape 2,5760,90 --expert 1 --row 0 --col 89\n"
      "  # is checkpoint w13 row 1500 (gate unit 750) on rank 1 of tp 4?\n"
      "  mxguard layout explain tp-slice --tp 4 --rank 1 --tensor x.gate_up_proj_blocks --shape 32,5760,90,16 "
      "--row 1500 --col 0\n"
      "Exit codes: 0 explained, 2 bad shape, options or coordinates\n");
  cmd->callback([&action, o] { action = [o] { return layout_explain(*o); }; });
}

// ---- tp-table --------------------------------------------------------------------------------

struct TpTableOptions {
  std::int64_t intermediate = 2880, hidden = 2880, tp = 1;
};

int layout_tp_table(const TpTableOptions& o) {
  const std::string label = fmt::format("tp-table I = {}, H = {}, tp = {}", o.intermediate, o.hidden, o.tp);
  const layout::TpPlan first = layout::make_tp_plan(o.intermediate, o.hidden, o.tp, 0, label);
  fmt::print("I = {}, H = {}, tp = {}: I/tp = {}, I_p = {}, intermediate_pad = {}, H_p = {}, hidden_pad = {}\n",
             o.intermediate, o.hidden, o.tp, first.shard_units, first.intermediate_padded, first.intermediate_pad,
             first.hidden_padded, first.hidden_pad);
  fmt::print("{:>4}  {:>14}  {:>6}  {:>5}  {:>5}  {:>16}  {:>17}\n", "rank", "units", "loaded", "I/tp", "I_p",
             "intermediate_pad", "real units in pad");
  std::int64_t at_risk = 0;
  for (std::int64_t r = 0; r < o.tp; ++r) {
    const layout::TpPlan p = layout::make_tp_plan(o.intermediate, o.hidden, o.tp, r, label);
    fmt::print("{:>4}  {:>14}  {:>6}  {:>5}  {:>5}  {:>16}  {:>17}\n", r,
               fmt::format("[{}, {})", p.unit_start, p.unit_end), p.units_loaded, p.shard_units,
               p.intermediate_padded, p.intermediate_pad, p.real_units_in_pad);
    at_risk += p.real_units_in_pad;
  }
  if (at_risk > 0) {
    fmt::print("warning: {} loaded units sit inside the last intermediate_pad units of their rank; a kernel that\n"
               "treats those as padding drops them (LAYOUTS.md §4)\n",
               at_risk);
  }
  return exit_code::kPass;
}

void add_tp_table(CLI::App* layout_cmd, Action& action) {
  auto o = std::make_shared<TpTableOptions>();
  auto* cmd = layout_cmd->add_subcommand(
      "tp-table",
      "Print, for every rank, the intermediate units SGLang's loader gives it (whole 32-unit blocks,\n"
      "ceil((I/32)/tp) per rank), the padded size I_p and the intermediate_pad the kernel is told,\n"
      "and how many loaded units fall inside that padding (LAYOUTS.md §4).");
  cmd->add_option("--intermediate", o->intermediate, "Intermediate size I (multiple of 32)")->capture_default_str();
  cmd->add_option("--hidden", o->hidden, "Hidden size H (multiple of 32)")->capture_default_str();
  cmd->add_option("--tp", o->tp, "Tensor-parallel size")->capture_default_str()->check(parallel_size());
  cmd->footer(
      "Examples:\n"
      "  mxguard layout tp-table --intermediate 2880 --hidden 2880 --tp 4   # GPT-OSS at tp 4\n"
      "  mxguard layout tp-table --tp 8\n"
      "Exit codes: 0 printed, 2 bad sizes\n");
  cmd->callback([&action, o] { action = [o] { return layout_tp_table(*o); }; });
}

void add_layout_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("layout",
                                 "MoE weight layout transforms (gate/up interleave, AITER weight and scale shuffles, "
                                 "tp slicing): apply, explain, tp-table; llama.cpp's GPT-OSS conversion for ggml: "
                                 "ggml-convert (layout_ggml.cpp)");
  cmd->require_subcommand(1);
  add_apply(cmd, action);
  add_explain(cmd, action);
  add_tp_table(cmd, action);
}

const CommandRegistration reg{10, add_layout_command};

}  // namespace
}  // namespace mxg::cli
