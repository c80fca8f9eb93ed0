// Test inputs for the weights search, built by a second route: random checkpoint tensors, and dumps
// made by calling the kernels/layout transforms themselves (tp_slice, deinterleave_rows,
// shuffle_weight, shuffle_scale) in the SGLang order, as a serving process would. The search never
// calls these transforms; it only reads index formulas, so a dump it recovers was not built by it.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "harness/diagnose/weights/chain.hpp"
#include "kernels/layout/tp_slice.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::diagnose::weights::testing {

// A checkpoint tensor of `kind` for E experts, intermediate I and hidden H, random content:
// blocks U8 [E, rows, K/32, 16], scales U8 [E, rows, K/32], biases BF16 [E, rows].
Tensor random_checkpoint(layout::ExpertTensor kind, std::int64_t experts, std::int64_t intermediate,
                         std::int64_t hidden, std::uint64_t seed);

// How the dump is stored, beside its layout.
enum class Form : std::uint8_t {
  natural,     // what the transforms return: 3-D blocks / scales, 2-D shuffled scales, 2-D biases
  four_d,      // blocks as [E', rows, K/32, 16]
  stacked_2d,  // blocks / unshuffled scales as [E' * rows, cols]
  int8,        // the bytes as I8 (a torch .view(torch.int8))
  f32,         // biases converted to F32 (what SGLang hands AITER)
};

struct DumpSpec {
  layout::ExpertTensor kind = layout::ExpertTensor::gate_up_proj_blocks;
  std::optional<TpRank> tp;            // none: the checkpoint geometry, unsliced
  bool deinterleave = false;
  Shuffle shuffle = Shuffle::none;
  std::vector<std::int64_t> experts;   // checkpoint experts in dump order; empty: all of them
  Form form = Form::natural;
  std::string describe() const;        // for test failure messages
};

// The dump the spec describes, from `checkpoint` (InputError where the library refuses a step).
Tensor build_dump(const DumpSpec& spec, const Tensor& checkpoint);

// The logical (pre-shuffle) tensor of a spec, [E', rows, cols] (cols in elements), before the
// shuffle and storage form are applied; `corrupt` then flips one element of it, and
// finish_dump() applies the rest. Used to corrupt one known logical tile.
Tensor logical_dump(const DumpSpec& spec, const Tensor& checkpoint);
Tensor finish_dump(const DumpSpec& spec, const Tensor& logical);

// Random subset of n experts out of E, in random order, or a contiguous range.
std::vector<std::int64_t> random_experts(std::mt19937_64& rng, std::int64_t total, std::int64_t n, bool contiguous);

}  // namespace mxg::diagnose::weights::testing
