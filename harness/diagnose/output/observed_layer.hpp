// What `diagnose output` starts from: one layer of a checkpoint, the hidden states that went in,
// the output that came out (whole, or one tensor-parallel rank's partial sum), and the routing
// (given, or the checkpoint router's). Turned into the matrix's canonical inputs so every
// combination can be prepared and run exactly as the matrix runs it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/diagnose/output/input_tensor.hpp"
#include "harness/matrix/canonical_inputs.hpp"
#include "harness/matrix/case_spec.hpp"
#include "reference/moe_config.hpp"
#include "reference/moe_weights.hpp"
#include "reference/routing.hpp"

namespace mxg::diagnose {

// The layer as the candidate combinations see it.
struct LayerSetup {
  // Only the experts some token is routed to are materialised (as the matrix does): a kernel's
  // per-expert behaviour does not depend on the others, and a GPT-OSS-120b layer has 128.
  matrix::CanonicalInputs inputs;
  // The ranks whose outputs add up to the observed output: one rank (its partial sum before the
  // all-reduce), or every rank of tp (the all-reduced output; tp 1 is the whole layer).
  std::vector<matrix::ShapeSpec> ranks;
};

struct LayerRequest {
  std::vector<std::filesystem::path> checkpoint;  // as ref::CheckpointSet::open takes them
  std::int64_t layer = 0;
  TensorArg hidden, observed;
  // Both or neither: the serving stack's routing. Neither: the checkpoint router's routing.
  std::optional<TensorArg> topk_ids, topk_weights;
  std::optional<std::filesystem::path> config;  // config.json; default: beside the first checkpoint
  std::optional<std::int64_t> topk;             // num_experts_per_tok, overrides config.json
  std::int64_t tp = 1;
  std::optional<std::int64_t> rank;  // absent: the observed output is the sum over all tp ranks
  // Only the first N tokens of the files (a long prefill routes to every expert, and every routed
  // expert is prepared under every combination; a few tokens decide as well).
  std::optional<std::int64_t> tokens;
};

struct ObservedLayer {
  LayerSetup setup;
  std::int64_t layer = 0;
  std::int64_t tp = 1;
  std::optional<std::int64_t> rank;
  Tensor observed;  // [T, H], any float dtype, as read
  std::string observed_label, hidden_label;
  std::string checkpoint;      // the sources, described
  ref::MoeConfig config;       // sizes as resolved
  std::string routing_source;  // "the checkpoint router" or the files
  std::string scope;           // which output was observed, in words
};

// Loads and checks everything; InputError naming the file, the tensor and the field at fault
// (wrong rank, dtype, hidden size, token count, a non-finite hidden state, ...).
ObservedLayer load_observed_layer(const LayerRequest& request);

// The canonical inputs of the routed experts and the rank shapes (for the loader above and for
// tests). `weights` and `routing` must have passed the reference's validation. InputError when a
// routed expert has a scale byte 0xFF (NaN) or a non-finite bias: the diagnosis fills padding
// with zeros in place of the matrix's NaN poison, which needs those values free.
LayerSetup make_layer_setup(const ref::MoeConfig& config, const ref::MoeWeights& weights, const Tensor& hidden,
                            const ref::Routing& routing, std::int64_t tp, std::optional<std::int64_t> rank,
                            std::string_view name);

// "tp 1 (the whole layer output)", "tp 4 rank 2 (its partial sum before the all-reduce)", ...
std::string describe_scope(std::int64_t tp, std::optional<std::int64_t> rank);

}  // namespace mxg::diagnose
