// The GPU fused-MoE layer: the one GPU translation unit, compiled by hipcc for AMD and by nvcc for
// NVIDIA (as CUDA, see kernels/hip/CMakeLists.txt). Holds the kernel instantiations and the host
// code that sizes the workspace, picks a kernel family and enqueues routing -> stage 1 -> stage 2
// -> slot reduction.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/errors.hpp"
#include "kernels/hip/gemv_kernel.hpp"
#include "kernels/hip/gemv_mma_kernel.hpp"
#include "kernels/hip/gpu_runtime.hpp"
#include "kernels/hip/moe_launch.hpp"
#include "kernels/hip/reduce_kernel.hpp"
#include "kernels/hip/routing_kernel.hpp"
#include "kernels/hip/tiled_kernel.hpp"

namespace mxg::gpu {
namespace {

constexpr std::int64_t kAlign = 256;
constexpr std::int64_t kSmallestTileRows = 32;
constexpr int kMaxExperts = 2048;        // routing kernel: two ints per expert in shared memory
constexpr std::int64_t kMaxGridY = 65535;
constexpr int kDefaultSharedLimit = 48 * 1024;

constexpr std::int64_t align_up(std::int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// Byte offsets of everything in the workspace.
struct WorkspaceLayout {
  std::int64_t offsets = 0, sorted = 0, active = 0, tile_expert = 0, tile_row = 0, totals = 0;
  std::int64_t act = 0, partial = 0, total = 0;
  std::int64_t max_tiles = 0;
};

WorkspaceLayout workspace_layout(const MoeShape& s) {
  WorkspaceLayout w;
  const std::int64_t pairs = s.pairs(), experts = s.experts;
  // Each expert's last tile may be partial: at most pairs / tile_rows + experts tiles.
  w.max_tiles = pairs / kSmallestTileRows + std::min(experts, pairs) + 1;
  std::int64_t at = 0;
  auto take = [&](std::int64_t bytes) {
    const std::int64_t here = at;
    at += align_up(bytes);
    return here;
  };
  w.offsets = take((experts + 1) * 4);
  w.sorted = take(pairs * 4);
  w.active = take(experts * 4);
  w.tile_expert = take(w.max_tiles * 4);
  w.tile_row = take(w.max_tiles * 4);
  w.totals = take(2 * 4);
  w.act = take(pairs * s.intermediate_padded * 2);
  w.partial = take(pairs * s.hidden_valid() * 4);
  w.total = at;
  return w;
}

RoutingTables routing_tables(const WorkspaceLayout& w, unsigned char* base) {
  RoutingTables t;
  t.offsets = reinterpret_cast<std::int32_t*>(base + w.offsets);
  t.sorted_pairs = reinterpret_cast<std::int32_t*>(base + w.sorted);
  t.active = reinterpret_cast<std::int32_t*>(base + w.active);
  t.tile_expert = reinterpret_cast<std::int32_t*>(base + w.tile_expert);
  t.tile_row = reinterpret_cast<std::int32_t*>(base + w.tile_row);
  t.totals = reinterpret_cast<std::int32_t*>(base + w.totals);
  return t;
}

// Lets `kernel` use `bytes` of dynamic shared memory (beyond the default 48 KiB needs an opt-in).
template <class Kernel>
void allow_shared(Kernel kernel, std::int64_t bytes, const char* name) {
  if (bytes <= kDefaultSharedLimit) return;
  check(hipFuncSetAttribute(reinterpret_cast<const void*>(kernel), hipFuncAttributeMaxDynamicSharedMemorySize,
                            static_cast<int>(bytes)),
        name);
}

std::int64_t ceil_div(std::int64_t x, std::int64_t m) { return (x + m - 1) / m; }

template <int kStage>
void launch_gemv(const StageArgs& a, std::int64_t expert_slots, hipStream_t stream) {
  const std::int64_t bytes = gemv_shared_bytes(a.k_valid);
  allow_shared(gemv_kernel<kStage>, bytes, "enable shared memory for gemv_kernel");
  const std::int64_t groups = ceil_div(a.out_valid, kStage == 1 ? 16 : kGemvRows);
  const dim3 grid(static_cast<unsigned>(expert_slots), static_cast<unsigned>(groups));
  gemv_kernel<kStage><<<grid, kGemvThreads, static_cast<std::size_t>(bytes), stream>>>(a);
  check_launch(kStage == 1 ? "gemv_kernel<1>" : "gemv_kernel<2>");
}

template <int kStage>
void launch_gemv_mma(const StageArgs& a, std::int64_t expert_slots, hipStream_t stream) {
  const std::int64_t bytes = gemv_mma_shared_bytes(a.k_valid);
  // Always opt in: the kernel's static shared memory counts against the same 48 KiB default.
  check(hipFuncSetAttribute(reinterpret_cast<const void*>(gemv_mma_kernel<kStage>),
                            hipFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
        "enable shared memory for gemv_mma_kernel");
  const std::int64_t groups = ceil_div(a.out_valid, kStage == 1 ? 16 : kGemvMmaRows);
  const dim3 grid(static_cast<unsigned>(expert_slots), static_cast<unsigned>(groups));
  gemv_mma_kernel<kStage><<<grid, kGemvMmaThreads, static_cast<std::size_t>(bytes), stream>>>(a);
  check_launch(kStage == 1 ? "gemv_mma_kernel<1>" : "gemv_mma_kernel<2>");
}

template <int kStage, int BM, int BN, class Tile>
void launch_tiled(const StageArgs& a, std::int64_t max_tiles, hipStream_t stream) {
  constexpr std::int64_t bytes = TileConfig<BM, BN>::kSharedBytes;
  auto kernel = tiled_kernel<kStage, BM, BN, Tile>;
  allow_shared(kernel, bytes, "enable shared memory for tiled_kernel");
  const std::int64_t columns = ceil_div(a.out_valid, kStage == 1 ? BN / 2 : BN);
  const dim3 grid(static_cast<unsigned>(columns), static_cast<unsigned>(max_tiles));
  kernel<<<grid, kTiledThreads, static_cast<std::size_t>(bytes), stream>>>(a);
  check_launch(kStage == 1 ? "tiled_kernel<1>" : "tiled_kernel<2>");
}

// Both stages of one tiled configuration.
template <int BM, int BN, class Tile1, class Tile2>
void launch_tiled_stages(const StageArgs& s1, const StageArgs& s2, std::int64_t max_tiles, hipStream_t stream) {
  launch_tiled<1, BM, BN, Tile1>(s1, max_tiles, stream);
  launch_tiled<2, BM, BN, Tile2>(s2, max_tiles, stream);
}

// Rows per tensor-core tile: enough to fill the tile at the average expert load, no more.
int mma_tile_rows(const MoeShape& s) {
  const double per_expert = double(s.pairs()) / double(s.experts);
  return per_expert >= 96 ? 128 : (per_expert >= 40 ? 64 : 32);
}

}  // namespace

std::size_t workspace_bytes(const MoeShape& shape) {
  return static_cast<std::size_t>(workspace_layout(shape).total);
}

bool tiled_mma_available() {
#if defined(MXG_GPU_CUDA)
  hipFuncAttributes attributes{};
  if (hipFuncGetAttributes(&attributes, reinterpret_cast<const void*>(
                                            tiled_kernel<1, 32, 128, MmaTile<32, 128>>)) != hipSuccess) {
    (void)hipGetLastError();  // clear the sticky error of a kernel with no image for this device
    return false;
  }
  return attributes.binaryVersion >= 80;  // the image was compiled with the mma path (sm_80+)
#else
  return false;
#endif
}

KernelFamily resolve_family(const MoeShape& shape, KernelFamily requested) {
  if (requested == KernelFamily::Auto) {
    // Up to ~4 pairs per expert the weights are read once either way and gemv wastes no math.
    if (shape.pairs() <= 4 * shape.experts) return tiled_mma_available() ? KernelFamily::GemvMma : KernelFamily::Gemv;
    requested = KernelFamily::TiledMma;
  }
  if (requested == KernelFamily::GemvMma && !tiled_mma_available()) return KernelFamily::Gemv;
  if (requested == KernelFamily::TiledMma && !tiled_mma_available()) return KernelFamily::TiledSimt;
  return requested;
}

void enqueue_fused_moe(const MoeLaunch& launch, void* workspace, void* stream_handle) {
  const MoeShape& s = launch.shape;
  if (s.tokens == 0) return;
  if (s.experts > kMaxExperts) {
    throw InputError("w13: " + std::to_string(s.experts) + " experts, the GPU routing handles at most " +
                     std::to_string(kMaxExperts));
  }
  const hipStream_t stream = static_cast<hipStream_t>(stream_handle);
  const KernelFamily family = resolve_family(s, launch.family);
  if (launch.tile_rows != 0 && launch.tile_rows != 32 && launch.tile_rows != 64 && launch.tile_rows != 128) {
    throw InputError("tile_rows: " + std::to_string(launch.tile_rows) + ", expected 0, 32, 64 or 128");
  }
  const int tile_rows = family != KernelFamily::TiledMma ? 64
                        : launch.tile_rows != 0          ? launch.tile_rows
                                                         : mma_tile_rows(s);
  const WorkspaceLayout w = workspace_layout(s);
  const bool gemv = family == KernelFamily::Gemv || family == KernelFamily::GemvMma;
  if (!gemv && w.max_tiles > kMaxGridY) {
    throw InputError("hidden: " + std::to_string(s.tokens) + " tokens need " + std::to_string(w.max_tiles) +
                     " row tiles, more than one launch holds (" + std::to_string(kMaxGridY) + ")");
  }
  unsigned char* base = static_cast<unsigned char*>(workspace);
  const RoutingTables tables = routing_tables(w, base);

  route_pairs_kernel<<<1, kRoutingThreads, static_cast<std::size_t>(2 * s.experts * 4), stream>>>(
      launch.ptr.topk_ids, static_cast<int>(s.pairs()), static_cast<int>(s.experts), tile_rows, tables);
  check_launch("route_pairs_kernel");

  auto* act = reinterpret_cast<std::uint16_t*>(base + w.act);
  auto* partial = reinterpret_cast<float*>(base + w.partial);
  const bool interleave = launch.gate_mode == GateMode::Interleave;

  StageArgs s1;
  s1.weights = {launch.ptr.w13, launch.ptr.w13_scale, 2 * s.intermediate_padded, s.hidden_padded / 2,
                s.w13_scale_cols, launch.is_shuffled};
  s1.bias = launch.ptr.w13_bias;
  s1.bias_stride = 2 * s.intermediate_padded;
  s1.x = launch.ptr.hidden;
  s1.x_stride = s.hidden_padded;
  s1.k_valid = s.hidden_valid();
  s1.out_valid = s.intermediate_valid();
  s1.topk = static_cast<int>(s.topk);
  s1.interleave = interleave;
  s1.intermediate_padded = s.intermediate_padded;
  s1.swiglu_limit = launch.swiglu_limit;
  s1.alpha = launch.alpha;
  s1.act = act;
  s1.act_stride = s.intermediate_padded;
  s1.routing = tables;

  StageArgs s2 = s1;
  s2.weights = {launch.ptr.w2, launch.ptr.w2_scale, s.hidden_padded, s.intermediate_padded / 2, s.w2_scale_cols,
                launch.is_shuffled};
  s2.bias = launch.ptr.w2_bias;
  s2.bias_stride = s.hidden_padded;
  s2.x = act;
  s2.x_stride = s.intermediate_padded;
  s2.k_valid = s.intermediate_valid();
  s2.out_valid = s.hidden_valid();
  s2.act = nullptr;
  s2.partial = partial;
  s2.partial_stride = s.hidden_valid();

  switch (family) {
    case KernelFamily::Gemv: {
      const std::int64_t slots = std::min(s.experts, s.pairs());
      launch_gemv<1>(s1, slots, stream);
      launch_gemv<2>(s2, slots, stream);
      break;
    }
    case KernelFamily::GemvMma: {
#if defined(MXG_GPU_CUDA)
      const std::int64_t slots = std::min(s.experts, s.pairs());
      launch_gemv_mma<1>(s1, slots, stream);
      launch_gemv_mma<2>(s2, slots, stream);
      break;
#else
      throw InfraError("enqueue_fused_moe: no tensor-core kernels on this platform");
#endif
    }
    case KernelFamily::TiledSimt:
      launch_tiled_stages<64, 64, SimtTile<64, 64>, SimtTile<64, 64>>(s1, s2, w.max_tiles, stream);
      break;
    case KernelFamily::TiledMma:
#if defined(MXG_GPU_CUDA)
      if (tile_rows == 128) {
        launch_tiled_stages<128, 128, MmaTile<128, 128>, MmaTile<128, 128>>(s1, s2, w.max_tiles, stream);
      } else if (tile_rows == 64) {
        launch_tiled_stages<64, 128, MmaTile<64, 128>, MmaTile<64, 128>>(s1, s2, w.max_tiles, stream);
      } else {
        launch_tiled_stages<32, 128, MmaTile<32, 128>, MmaTile<32, 128>>(s1, s2, w.max_tiles, stream);
      }
      break;
#else
      throw InfraError("enqueue_fused_moe: no tensor-core kernels on this platform");
#endif
    case KernelFamily::Auto:
      throw InfraError("enqueue_fused_moe: kernel family unresolved");
  }

  const std::int64_t outputs = s.tokens * s.hidden_valid();
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(ceil_div(outputs, kReduceThreads), 8192));
  reduce_slots_kernel<<<blocks, kReduceThreads, 0, stream>>>(partial, s.hidden_valid(), launch.ptr.topk_weights,
                                                             static_cast<int>(s.topk), s.tokens, s.hidden_valid(),
                                                             launch.ptr.y);
  check_launch("reduce_slots_kernel");
}

}  // namespace mxg::gpu
