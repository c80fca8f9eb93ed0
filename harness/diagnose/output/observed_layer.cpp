// Loading the observed layer: checkpoint, config, hidden states, observed output and routing,
// checked against each other, then compacted to the routed experts.
#include "harness/diagnose/output/observed_layer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "harness/matrix/synthetic_routing.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/format/mxfp4.hpp"
#include "reference/checkpoint.hpp"
#include "reference/hf_config.hpp"
#include "reference/moe_forward.hpp"

namespace mxg::diagnose {

namespace fs = std::filesystem;

namespace {

constexpr std::uint8_t kNanScale = 0xFF;  // E8M0 NaN

// The routed experts' bytes of a [E, ...] byte tensor, as a [E', tail...] tensor.
Tensor gather_experts(const Tensor& all, const std::vector<std::int64_t>& experts, Shape tail) {
  const auto per = static_cast<std::size_t>(all.nbytes() / static_cast<std::size_t>(all.dim(0)));
  Shape shape{static_cast<std::int64_t>(experts.size())};
  shape.insert(shape.end(), tail.begin(), tail.end());
  Tensor out(all.dtype(), shape);
  auto dst = out.mutable_bytes();
  const auto src = all.bytes();
  for (std::size_t m = 0; m < experts.size(); ++m) {
    std::memcpy(dst.data() + m * per, src.data() + static_cast<std::size_t>(experts[m]) * per, per);
  }
  return out;
}

// A float [E, n] tensor's routed rows as F32 [E', n]; every value must be finite.
Tensor gather_bias(const Tensor& all, const std::vector<std::int64_t>& experts, const std::string& label) {
  const std::int64_t n = all.dim(1);
  const std::vector<float> values = all.to_f32();
  Tensor out(DType::F32, {static_cast<std::int64_t>(experts.size()), n});
  auto dst = out.as_mut<float>();
  for (std::size_t m = 0; m < experts.size(); ++m) {
    for (std::int64_t i = 0; i < n; ++i) {
      const float v = values[static_cast<std::size_t>(experts[m] * n + i)];
      if (!std::isfinite(v)) {
        throw InputError(fmt::format("{}: element [{}, {}] of routed expert {} is {}: a non-finite bias makes every "
                                     "combination's output non-finite, there is nothing to rank",
                                     label, experts[m], i, experts[m], v));
      }
      dst[m * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = v;
    }
  }
  return out;
}

// Scale bytes 0xFF are what the diagnosis turns back into the loader's zero padding (the matrix
// poisons absent data with them), so a checkpoint must not hold one on a routed expert.
void require_no_nan_scales(const Tensor& gathered, const std::vector<std::int64_t>& experts, const std::string& label) {
  const auto bytes = gathered.as<std::uint8_t>();
  const auto at = std::find(bytes.begin(), bytes.end(), kNanScale);
  if (at == bytes.end()) return;
  const auto flat = static_cast<std::int64_t>(at - bytes.begin());
  const std::int64_t per_expert = gathered.numel() / gathered.dim(0), cols = gathered.dim(2);
  const std::int64_t m = flat / per_expert, row = (flat % per_expert) / cols, col = flat % cols;
  throw InputError(fmt::format("{}: routed expert {}, row {}, block {} has scale byte 0xFF (NaN): every "
                               "combination reading it outputs NaN, there is nothing to rank",
                               label, experts[static_cast<std::size_t>(m)], row, col));
}

void require_finite(const Tensor& t, const std::string& label) {
  const std::vector<float> values = t.to_f32();
  const std::int64_t cols = t.dim(1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw InputError(fmt::format("{}: element [{}, {}] is {}: the layer input must be finite", label,
                                   static_cast<std::int64_t>(i) / cols, static_cast<std::int64_t>(i) % cols,
                                   values[i]));
    }
  }
}

// The first n rows of a [T, ...] tensor.
Tensor first_rows(const Tensor& t, std::int64_t n) {
  if (n == t.dim(0)) return t;
  Shape shape = t.shape();
  shape[0] = n;
  Tensor out(t.dtype(), shape);
  const auto src = t.bytes();
  std::copy(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(out.nbytes()), out.mutable_bytes().begin());
  return out;
}

}  // namespace

std::string describe_scope(std::int64_t tp, std::optional<std::int64_t> rank) {
  if (tp == 1) return "tp 1 (the whole layer output)";
  if (rank) return fmt::format("tp {} rank {} (its partial sum before the all-reduce)", tp, *rank);
  return fmt::format("tp {} (the all-reduced output: the sum of every rank's partial sum)", tp);
}

LayerSetup make_layer_setup(const ref::MoeConfig& c, const ref::MoeWeights& w, const Tensor& hidden,
                            const ref::Routing& routing, std::int64_t tp, std::optional<std::int64_t> rank,
                            std::string_view name) {
  if (tp < 1) throw InputError(fmt::format("--tp: {} is below 1", tp));
  if (rank && (*rank < 0 || *rank >= tp)) throw InputError(fmt::format("--rank: {} is outside [0, tp = {})", *rank, tp));

  // Compaction exactly as the matrix's synthetic routings are compacted.
  matrix::TokenRouting token_routing;
  token_routing.tokens = routing.tokens;
  token_routing.topk = routing.topk;
  token_routing.experts.assign(routing.ids.begin(), routing.ids.end());
  token_routing.weights.assign(routing.weights.begin(), routing.weights.end());
  const matrix::CompactRouting compact = matrix::compact_routing(token_routing);

  const std::int64_t H = c.hidden, I = c.intermediate, k = routing.topk, T = routing.tokens;
  LayerSetup s;
  matrix::CanonicalInputs& in = s.inputs;
  in.expert_ids = compact.expert_ids;
  in.gate_up_blocks = gather_experts(w.w13_blocks, in.expert_ids, {2 * I, H / mxfp4::kBlock, 16});
  in.gate_up_scales = gather_experts(w.w13_scales, in.expert_ids, {2 * I, H / mxfp4::kBlock});
  in.down_blocks = gather_experts(w.w2_blocks, in.expert_ids, {H, I / mxfp4::kBlock, 16});
  in.down_scales = gather_experts(w.w2_scales, in.expert_ids, {H, I / mxfp4::kBlock});
  require_no_nan_scales(in.gate_up_scales, in.expert_ids, w.labels.w13_scales);
  require_no_nan_scales(in.down_scales, in.expert_ids, w.labels.w2_scales);
  in.gate_up_bias = gather_bias(w.w13_bias, in.expert_ids, w.labels.w13_bias);
  in.down_bias = gather_bias(w.w2_bias, in.expert_ids, w.labels.w2_bias);
  in.hidden = Tensor::from_f32(hidden.to_f32(), {T, H});
  in.topk_ids = Tensor(DType::I32, {T, k});
  std::copy(compact.topk_ids.begin(), compact.topk_ids.end(), in.topk_ids.as_mut<std::int32_t>().begin());
  in.topk_weights = Tensor(DType::F32, {T, k});
  std::copy(token_routing.weights.begin(), token_routing.weights.end(), in.topk_weights.as_mut<float>().begin());

  for (std::int64_t r = 0; r < tp; ++r) {
    if (rank && r != *rank) continue;
    matrix::ShapeSpec shape;
    shape.name = matrix::shape_name(name, static_cast<int>(tp), static_cast<int>(r));
    shape.model = "custom";
    shape.hidden = H;
    shape.intermediate = I;
    shape.experts = c.experts;
    shape.topk = k;
    shape.tp = static_cast<int>(tp);
    shape.rank = static_cast<int>(r);
    shape.swiglu_limit = static_cast<float>(c.swiglu_limit);
    shape.alpha = static_cast<float>(c.alpha);
    s.ranks.push_back(std::move(shape));
  }
  return s;
}

ObservedLayer load_observed_layer(const LayerRequest& r) {
  if (r.topk_ids.has_value() != r.topk_weights.has_value()) {
    throw InputError("--topk-ids and --topk-weights go together: give both (the serving stack's routing) or neither "
                     "(the checkpoint router's routing)");
  }
  ObservedLayer out;
  const ref::CheckpointSet checkpoint = ref::CheckpointSet::open(r.checkpoint);
  out.checkpoint = checkpoint.describe_sources();

  // Sizes: GPT-OSS defaults < config.json < flags < the tensors' shapes (where still unknown).
  ref::MoeConfig& c = out.config;
  std::string config_source = "the tensors' shapes";
  std::optional<fs::path> config_path = r.config;
  if (!config_path && fs::exists(checkpoint.first_folder() / "config.json")) {
    config_path = checkpoint.first_folder() / "config.json";
  }
  if (config_path) {
    ref::apply_fields(ref::read_hf_config(*config_path), c);
    config_source = config_path->string();
  }
  if (r.topk) c.topk = *r.topk;

  const InputTensor hidden = read_input_tensor(r.hidden, "--hidden-tensor", {"hidden_states", "hidden", "x"});
  const InputTensor observed = read_input_tensor(r.observed, "--observed-tensor", {"y", "output", "out"});
  out.hidden_label = hidden.label;
  out.observed_label = observed.label;

  const bool given_routing = r.topk_ids.has_value();
  const ref::MoeWeights weights = ref::load_layer_weights(checkpoint, r.layer, !given_routing);
  ref::infer_sizes(c, weights);

  std::optional<InputTensor> ids, routing_weights;
  if (given_routing) {
    ids = read_input_tensor(*r.topk_ids, "--topk-ids-tensor", {std::string(ref::kTopkIdsName)});
    routing_weights = read_input_tensor(*r.topk_weights, "--topk-weights-tensor", {std::string(ref::kTopkWeightsName)});
    if (c.topk == 0 && ids->tensor.rank() == 2) c.topk = ids->tensor.dim(1);  // k is in no weight shape
  }
  if (c.topk == 0) {
    throw InputError(fmt::format("num_experts_per_tok: not set by {} (give --num-experts-per-tok, --config, or "
                                 "--topk-ids and --topk-weights)",
                                 config_source));
  }
  ref::validate_config(c, config_source);
  ref::validate_weights(c, weights, !given_routing);
  if (c.activation != ref::Activation::SwigluOai) {
    throw InputError("activation: only swiglu-oai is modelled by the kernels");
  }

  ref::validate_hidden(hidden.tensor, c, hidden.label);
  require_finite(hidden.tensor, hidden.label);
  ref::validate_hidden(observed.tensor, c, observed.label);
  const std::int64_t T = hidden.tensor.dim(0);
  if (observed.tensor.dim(0) != T) {
    throw InputError(fmt::format("{}: shape {}: dimension 0 (tokens) is {}, but {} has {} tokens", observed.label,
                                 shape_string(observed.tensor.shape()), observed.tensor.dim(0), hidden.label, T));
  }
  // --tokens: the first N rows of everything per-token.
  const std::int64_t used = r.tokens.value_or(T);
  if (used < 1 || used > T) {
    throw InputError(fmt::format("--tokens: {} is outside [1, {}] (the tokens of {})", used, T, hidden.label));
  }
  const Tensor hidden_used = first_rows(hidden.tensor, used);
  out.observed = first_rows(observed.tensor, used);

  ref::Routing routing;
  if (given_routing) {
    // Each file is checked under its own name first; the range check then names the ids' file.
    if (ids->tensor.dtype() != DType::I32 && ids->tensor.dtype() != DType::I64) {
      throw InputError(fmt::format("{}: dtype {} is not supported (expected I32 or I64)", ids->label,
                                   dtype_name(ids->tensor.dtype())));
    }
    const DType wt = routing_weights->tensor.dtype();
    if (wt != DType::F32 && wt != DType::F64 && wt != DType::BF16 && wt != DType::F16) {
      throw InputError(fmt::format("{}: dtype {} is not supported (expected F32, F64, BF16 or F16)",
                                   routing_weights->label, dtype_name(wt)));
    }
    for (const InputTensor* t : {&*ids, &*routing_weights}) {
      if (t->tensor.rank() != 2 || t->tensor.dim(0) != T || t->tensor.dim(1) != c.topk) {
        throw InputError(fmt::format("{}: shape {}, expected [tokens = {}, num_experts_per_tok = {}]", t->label,
                                     shape_string(t->tensor.shape()), T, c.topk));
      }
    }
    routing = ref::routing_from_tensors(first_rows(ids->tensor, used), first_rows(routing_weights->tensor, used), used,
                                        c.topk, c.experts, ids->label);
    out.routing_source = fmt::format("{} and {}", ids->label, routing_weights->label);
  } else {
    routing = ref::route(c, weights, hidden_used, ref::Precision::F32);
    out.routing_source = fmt::format("the checkpoint router ({})", ref::router_mode_name(c.router));
  }
  out.setup = make_layer_setup(c, weights, hidden_used, routing, r.tp, r.rank, fmt::format("layer{}", r.layer));
  out.layer = r.layer;
  out.tp = r.tp;
  out.rank = r.rank;
  out.scope = describe_scope(r.tp, r.rank);
  return out;
}

}  // namespace mxg::diagnose
