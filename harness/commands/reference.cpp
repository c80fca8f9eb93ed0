// `mxguard reference`: one GPT-OSS MoE layer computed by the independent Eigen reference from a
// Hugging Face checkpoint (canonical MXFP4 layout) and a file of hidden states.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/command.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/tensor/safetensors.hpp"
#include "reference/checkpoint.hpp"
#include "reference/hf_config.hpp"
#include "reference/moe_forward.hpp"
#include "reference/routing.hpp"

namespace mxg::cli {
namespace {

namespace fs = std::filesystem;

struct ReferenceOptions {
  std::vector<std::string> checkpoints;
  std::int64_t layer = 0;
  std::string hidden, hidden_tensor = "hidden_states", out;
  std::optional<std::string> config, topk_from;
  std::string precision = "f32", router = "topk-softmax", activation = "swiglu-oai";
  int threads = 0;
  std::optional<std::int64_t> hidden_size, intermediate_size, num_local_experts, num_experts_per_tok;
  std::optional<double> swiglu_limit, alpha;
};

// Defaults (GPT-OSS) < config.json < flags < sizes read off the tensors (only where still unknown).
ref::MoeConfig resolve_config(const ReferenceOptions& o, const ref::CheckpointSet& checkpoint,
                              std::string& config_source) {
  ref::MoeConfig c;
  std::optional<fs::path> config_path;
  if (o.config) {
    config_path = *o.config;
  } else if (fs::exists(checkpoint.first_folder() / "config.json")) {
    config_path = checkpoint.first_folder() / "config.json";
  }
  config_source = "flags";
  if (config_path) {
    ref::apply_fields(ref::read_hf_config(*config_path), c);
    config_source = config_path->string() + " and flags";
  }
  if (o.hidden_size) c.hidden = *o.hidden_size;
  if (o.intermediate_size) c.intermediate = *o.intermediate_size;
  if (o.num_local_experts) c.experts = *o.num_local_experts;
  if (o.num_experts_per_tok) c.topk = *o.num_experts_per_tok;
  if (o.swiglu_limit) c.swiglu_limit = *o.swiglu_limit;
  if (o.alpha) c.alpha = *o.alpha;
  c.router = ref::parse_router_mode(o.router, "--router");
  c.activation = ref::parse_activation(o.activation, "--activation");
  return c;
}

int run_reference_command(const ReferenceOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<fs::path> sources(o.checkpoints.begin(), o.checkpoints.end());
  const ref::CheckpointSet checkpoint = ref::CheckpointSet::open(sources);
  std::string config_source;
  ref::MoeConfig c = resolve_config(o, checkpoint, config_source);

  const SafetensorsFile hidden_file = SafetensorsFile::open(o.hidden);
  const Tensor hidden = hidden_file.get(o.hidden_tensor);
  const std::string hidden_label = fmt::format("{}: tensor '{}'", o.hidden, o.hidden_tensor);

  const bool given_routing = o.topk_from.has_value();
  ref::MoeWeights weights = ref::load_layer_weights(checkpoint, o.layer, !given_routing);
  ref::infer_sizes(c, weights);

  std::optional<ref::Routing> routing;
  if (given_routing) {
    const SafetensorsFile topk_file = SafetensorsFile::open(*o.topk_from);
    const Tensor ids = topk_file.get(ref::kTopkIdsName);
    if (c.topk == 0 && ids.rank() == 2) c.topk = ids.dim(1);  // k is in no weight shape
    ref::validate_config(c, config_source);
    ref::validate_hidden(hidden, c, hidden_label);
    routing = ref::routing_from_tensors(ids, topk_file.get(ref::kTopkWeightsName), hidden.dim(0), c.topk,
                                        c.experts, *o.topk_from);
  }
  if (c.topk == 0) {
    throw InputError(fmt::format("num_experts_per_tok: not set by {} (give --num-experts-per-tok, --config or "
                                 "--topk-from)",
                                 config_source));
  }
  ref::validate_config(c, config_source);

  ref::ForwardOptions forward;
  forward.precision = ref::parse_precision(o.precision, "--precision");
  forward.threads = o.threads;
  const ref::ReferenceResult result = ref::run_reference(c, weights, hidden, routing, forward, hidden_label);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  NamedTensors out{{"y", result.y}};
  for (auto& named : ref::routing_tensors(result.routing)) out.push_back(std::move(named));
  write_safetensors(o.out, out,
                    {{"producer", "mxguard reference"},
                     {"checkpoint", checkpoint.describe_sources()},
                     {"layer", std::to_string(o.layer)},
                     {"config", ref::describe(c)},
                     {"precision", std::string(ref::precision_name(forward.precision))},
                     {"routing", given_routing ? *o.topk_from : "router"},
                     {"seconds", fmt::format("{:.6f}", seconds)}});
  fmt::print("reference: layer {} of {}: {} precision={} routing={}: y {} {} -> {} in {:.3f} s\n", o.layer,
             checkpoint.describe_sources(), ref::describe(c), ref::precision_name(forward.precision),
             given_routing ? *o.topk_from : "router", shape_string(result.y.shape()), dtype_name(result.y.dtype()),
             o.out, seconds);
  return exit_code::kPass;
}

}  // namespace

void add_reference_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ReferenceOptions>();
  auto* cmd = app.add_subcommand(
      "reference",
      "Compute one MoE layer with the independent Eigen reference from a Hugging Face checkpoint (canonical\n"
      "MXFP4 layout, LAYOUTS.md §2-§3) and hidden states; write y, topk_ids and topk_weights.");
  cmd->add_option("--checkpoint", o->checkpoints,
                  "A .safetensors file, a model.safetensors.index.json, or a folder holding either; repeat to\n"
                  "search several in order")
      ->required();
  cmd->add_option("--layer", o->layer, "Layer number L (model.layers.L.mlp.*)")->required()->check(CLI::NonNegativeNumber);
  cmd->add_option("--hidden", o->hidden, "Safetensors file with the layer input [T, H] (F32, BF16, F16 or F64)")
      ->required();
  cmd->add_option("--hidden-tensor", o->hidden_tensor, "Tensor name in --hidden")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "Output safetensors: y [T, H] (F32, or F64 with --precision f64), topk_ids I32 [T, k],\n"
                  "topk_weights F32 [T, k]")
      ->required();
  cmd->add_option("--config", o->config,
                  "Hugging Face config.json (default: config.json beside the first --checkpoint, if present)");
  cmd->add_option("--topk-from", o->topk_from,
                  "Use this routing instead of the router: safetensors with topk_ids I32 [T, k] and\n"
                  "topk_weights F32 [T, k] (the router tensors are then not needed)");
  cmd->add_option("--precision", o->precision, "f32, or f64 for a gold run")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f64"}));
  cmd->add_option("--threads", o->threads, "Worker threads (0 = all cores); the result does not depend on it")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--hidden-size", o->hidden_size, "Override hidden_size H");
  cmd->add_option("--intermediate-size", o->intermediate_size, "Override intermediate_size I");
  cmd->add_option("--num-local-experts", o->num_local_experts, "Override num_local_experts E");
  cmd->add_option("--num-experts-per-tok", o->num_experts_per_tok, "Override num_experts_per_tok k");
  cmd->add_option("--swiglu-limit", o->swiglu_limit, "Override swiglu_limit (GPT-OSS: 7.0)");
  cmd->add_option("--alpha", o->alpha, "SwiGLU sigmoid slope (GPT-OSS: 1.702)");
  cmd->add_option("--router", o->router,
                  "topk-softmax (GPT-OSS: softmax over the k largest logits), softmax-topk-renorm, softmax-topk")
      ->capture_default_str()
      ->check(CLI::IsMember({"topk-softmax", "softmax-topk-renorm", "softmax-topk"}));
  cmd->add_option("--activation", o->activation,
                  "swiglu-oai ((clamp(up)+1) * min(gate,limit) * sigmoid(alpha*gate)) or silu (silu(gate) * up)")
      ->capture_default_str()
      ->check(CLI::IsMember({"swiglu-oai", "silu"}));
  cmd->footer(
      "Sizes come from config.json, then flags; H, I and E still unknown are read off the tensor shapes.\n"
      "Experts are chosen on the logits, highest first; equal logits go to the lower expert index.\n"
      "Examples:\n"
      "  mxguard reference --checkpoint gpt-oss-120b/ --layer 3 --hidden h.safetensors --out ref.safetensors\n"
      "  mxguard reference --checkpoint layer.safetensors --layer 0 --hidden h.safetensors \\\n"
      "      --topk-from kernel_routing.safetensors --precision f64 --out gold.safetensors\n"
      "Exit codes: 0 written, 2 bad input or flags, 3 infrastructure error.");
  cmd->callback([&action, o] { action = [o] { return run_reference_command(*o); }; });
}

}  // namespace mxg::cli
