// Test fixture of `diagnose output`: a small random GPT-OSS-style layer (canonical checkpoint
// layout, with a router), written as a checkpoint, and the observed output of a chosen
// combination computed WITHOUT the diagnose library: matrix::prepare_problem + the host backend,
// with the loader's zero padding applied here by its own rule.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "harness/matrix/dimensions.hpp"
#include "kernels/tensor/tensor.hpp"
#include "reference/moe_config.hpp"
#include "reference/moe_weights.hpp"
#include "reference/routing.hpp"

namespace mxg::diagnose::testing {

struct SyntheticLayer {
  ref::MoeConfig config;     // H, I, E, k (GPT-OSS activation and router)
  ref::MoeWeights weights;   // U8 blocks [E, rows, K/32, 16], BF16 biases, BF16 router
  Tensor hidden;             // F32 [T, H], values exact in bf16
  ref::Routing routing;      // the checkpoint router's routing of `hidden` (reference routing)
};

SyntheticLayer make_synthetic_layer(std::int64_t hidden, std::int64_t intermediate, std::int64_t experts,
                                    std::int64_t topk, std::int64_t tokens, std::uint64_t seed);

// model.layers.{layer}.mlp.experts.* and .router.* in one safetensors file.
void write_checkpoint(const SyntheticLayer& layer, std::int64_t layer_number, const std::filesystem::path& file);

// The output a serving stack with this combination produces: rank `rank` of tp (its partial sum),
// or the sum over every rank when `rank` is empty. F32 [T, H].
Tensor observed_output(const SyntheticLayer& layer, const matrix::Combination& combo, std::int64_t tp,
                       std::optional<std::int64_t> rank);

// The single combination a scenario of cases/scenarios.json describes (its match fixes every dimension).
matrix::Combination scenario_combination(const std::string& name);
// The names of the AITER-family scenarios (the ones diagnose output can explain).
std::vector<std::string> scenario_names();

// y + N(0, sigma^2) with sigma chosen so that the noise alone has NMSE `nmse` against y.
Tensor with_noise(const Tensor& y, double nmse, std::uint64_t seed);

}  // namespace mxg::diagnose::testing
