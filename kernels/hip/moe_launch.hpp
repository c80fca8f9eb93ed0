// Host-side interface of the GPU fused-MoE kernels (LAYOUTS.md §8): device pointers, the shape, the
// read-path flags, and the call that enqueues the whole layer. Plain C++: no GPU headers, so the
// backend, the tests and the benchmark include it from ordinary C++ files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/backend/fused_moe.hpp"

namespace mxg::gpu {

// Which kernels compute the two GEMMs. Gemv streams each weight byte once per expert and suits few
// tokens per expert (decode); the tiled kernels dequantise a weight tile into shared memory and
// reuse it across a block of tokens (prefill), with plain FMAs (any GPU) or NVIDIA tensor cores.
// GemvMma is gemv with the products on NVIDIA tensor cores (up to 8 tokens per MMA).
enum class KernelFamily : std::uint8_t { Auto, Gemv, GemvMma, TiledSimt, TiledMma };
// "auto" | "gemv" | "gemv-mma" | "tiled-simt" | "tiled-mma"
std::string_view kernel_family_name(KernelFamily f);
KernelFamily parse_kernel_family(std::string_view s);  // InputError naming the value

struct MoeShape {
  std::int64_t tokens = 0, topk = 0, experts = 0;
  std::int64_t hidden_padded = 0, intermediate_padded = 0;  // H_p, I_p
  std::int64_t hidden_pad = 0, intermediate_pad = 0;        // absent trailing inputs / units
  // Row strides (dim 1) of the 2-D scale tensors; larger than H_p/32, I_p/32 when shuffled.
  std::int64_t w13_scale_cols = 0, w2_scale_cols = 0;

  std::int64_t pairs() const { return tokens * topk; }
  std::int64_t hidden_valid() const { return hidden_padded - hidden_pad; }
  std::int64_t intermediate_valid() const { return intermediate_padded - intermediate_pad; }
};

// Device pointers, laid out as FusedMoeProblem's tensors (bf16 as raw 16-bit words).
struct MoeDevicePointers {
  const std::uint16_t* hidden = nullptr;  // [T, H_p]
  const std::uint8_t* w13 = nullptr;      // [E, 2*I_p, H_p/2]
  const std::uint8_t* w13_scale = nullptr;
  const std::uint8_t* w2 = nullptr;  // [E, H_p, I_p/2]
  const std::uint8_t* w2_scale = nullptr;
  const float* w13_bias = nullptr;  // [E, 2*I_p], [gate | up]
  const float* w2_bias = nullptr;   // [E, H_p]
  const std::int32_t* topk_ids = nullptr;
  const float* topk_weights = nullptr;
  std::uint16_t* y = nullptr;  // [T, H_p - hidden_pad]
};

struct MoeLaunch {
  MoeShape shape;
  MoeDevicePointers ptr;
  GateMode gate_mode = GateMode::Separated;
  bool is_shuffled = false;
  float swiglu_limit = 7.0f;
  float alpha = 1.702f;
  KernelFamily family = KernelFamily::Auto;
  // tiled-mma only: pairs per row tile (32, 64 or 128); 0 picks by the average pairs per expert.
  int tile_rows = 0;
};

// Scratch the layer needs on the device (routing tables, activations, per-slot partial outputs).
std::size_t workspace_bytes(const MoeShape& shape);
// True when this build has the tensor-core kernels and the current device can run them.
bool tiled_mma_available();
// The family `requested` resolves to for this shape on the current device (Auto picks by the
// average number of tokens per expert; GemvMma falls back to Gemv and TiledMma to TiledSimt where
// tensor cores are unavailable).
KernelFamily resolve_family(const MoeShape& shape, KernelFamily requested);

// Enqueues routing, both GEMMs and the slot-ordered reduction on `stream` (a hipStream_t /
// cudaStream_t, nullptr for the default stream). No float atomics: the result is bit-reproducible.
// `workspace` holds workspace_bytes(shape) bytes. Throws InfraError when a launch fails.
void enqueue_fused_moe(const MoeLaunch& launch, void* workspace, void* stream);

}  // namespace mxg::gpu
