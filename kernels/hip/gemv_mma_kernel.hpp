// The decode kernel on NVIDIA tensor cores: like gemv_kernel, a block owns 32 weight rows of one
// routed expert and streams them once per pass of up to 8 tokens, but the products are m16n8k16
// bf16 MMAs with f32 accumulation instead of table lookups and FMAs, which cut the instructions
// per weight byte ~3x (the SIMT gemv was issue-bound at 25 % of peak bandwidth).
//
// Each lane decodes the 16-byte chunks it loaded straight into MMA A fragments. The MMA sums over
// k across the 4 lanes of a quad, and each lane holds a different chunk, so the dot product runs in
// a permuted k order: lane q of a quad supplies chunk 4·c + q, and within a chunk the 16 bf16 pairs
// are (element 8w + i, element 8w + i + 4) for word w, i = 0..3 (what a shift and two masks give
// from a packed word). The inputs are staged in shared memory in that same pair order, so one
// 8-byte load gives a lane its B fragment. A weight becomes bf16 exactly: an E2M1 value times a
// power of two has two significant bits.
#pragma once

#include <cstdint>

#include "kernels/hip/device_prims.hpp"
#include "kernels/hip/mma_bf16.hpp"
#include "kernels/hip/stage_args.hpp"

namespace mxg::gpu {

inline constexpr int kGemvMmaThreads = 256;
inline constexpr int kGemvMmaRows = 32;    // weight rows per block: two m16 halves
static_assert(kGemvMmaRows == 32, "group_row (stage_args.hpp) splits a stage into 32-row groups");
inline constexpr int kGemvMmaTokens = 8;   // tokens per pass: the MMA's n
inline constexpr int kGemvMmaSlices = 4;   // warps per row half, each a quarter of the k chunks
// Chunk groups whose loads are issued together (H100, T = 16: 1 -> 560 us, 2 -> 503, 3 -> 482, 4 -> 488;
// loading the next groups before the math, double-buffered in registers, was slower: 735 us).
inline constexpr int kGemvMmaUnroll = 3;
// One chunk's inputs in pair order: 16 words. A token's row is padded by 32 bytes so the 8 tokens'
// rows start in different bank groups.
inline constexpr int kPairChunkBytes = 64;
inline constexpr int kPairTokenPad = 32;

constexpr std::int64_t gemv_mma_token_stride(std::int64_t k_valid) {
  return ((k_valid + kChunkElements - 1) / kChunkElements) * kPairChunkBytes + kPairTokenPad;
}
constexpr std::int64_t gemv_mma_shared_bytes(std::int64_t k_valid) {
  return kGemvMmaTokens * gemv_mma_token_stride(k_valid);
}

namespace detail {

// bf16x2 d = a * b (+ -0, which keeps the sign of a zero product); subnormals are kept.
__device__ __forceinline__ std::uint32_t bf16x2_mul(std::uint32_t a, std::uint32_t b) {
#if defined(MXG_HAVE_MMA_BF16)
  std::uint32_t d;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
  return d;
#else
  (void)a;
  (void)b;
  __builtin_trap();
  return 0u;
#endif
}

// Decodes one 16-byte chunk with E8M0 scale `s` into 16 bf16 pairs (pair 4w + i = elements 8w + i,
// 8w + i + 4). Placing the E2M1 bits (sign, 2 exponent bits, 1 mantissa bit) into bf16's sign,
// lowest exponent bits and top mantissa bit gives value · 2^-126 (code 1, 0.5, becomes the
// subnormal 2^-127), so the multiplier is 2^(s-1); above s = 128 that is not a bf16, so 2^126 and
// 2^(s-127) are applied one after the other.
__device__ __forceinline__ void decode_chunk_pairs(uint4 packed, std::uint32_t s, std::uint32_t (&out)[16]) {
  const std::uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
  const bool one_step = s <= 128u;
  const std::uint32_t m1 = one_step ? (s + 126u) << 7 : 253u << 7;  // 2^(s-1) or 2^126
  const std::uint32_t m2 = s == 255u ? 0x7FC0u : s << 7;            // 2^(s-127), NaN for 255
  const std::uint32_t mul1 = m1 | (m1 << 16), mul2 = m2 | (m2 << 16);
#pragma unroll
  for (int w = 0; w < 4; ++w) {
    const std::uint32_t mag = words[w] & 0x77777777u, sgn = words[w] & 0x88888888u;
    const std::uint32_t raw[4] = {
        ((mag << 6) & 0x01C001C0u) | ((sgn << 12) & 0x80008000u),
        ((mag << 2) & 0x01C001C0u) | ((sgn << 8) & 0x80008000u),
        ((mag >> 2) & 0x01C001C0u) | ((sgn << 4) & 0x80008000u),
        ((mag >> 6) & 0x01C001C0u) | (sgn & 0x80008000u),
    };
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      std::uint32_t v = bf16x2_mul(raw[i], mul1);
      if (!one_step) v = bf16x2_mul(v, mul2);
      out[4 * w + i] = v;
    }
  }
}

// Copies the inputs of `count` pairs starting at sorted position `first` into shared memory as
// [token][chunk][16 pair words]; absent inputs (k >= k_valid) become zeros.
template <int kStage>
__device__ void stage_pair_inputs(const StageArgs& a, int first, int count, std::int64_t chunks,
                                  std::int64_t token_stride, unsigned char* xs) {
  const std::int64_t vectors = count * chunks * 4;  // 8 bf16 (one word group w) per vector
  for (std::int64_t v = threadIdx.x; v < vectors; v += kGemvMmaThreads) {
    const std::int64_t t = v / (chunks * 4), rem = v % (chunks * 4);
    const std::int64_t chunk = rem / 4, w = rem % 4;
    const std::int64_t k = chunk * kChunkElements + w * 8;
    const std::uint16_t* src = x_row<kStage>(a, a.routing.sorted_pairs[first + t]) + k;
    std::uint32_t e[8] = {};
    if (k + 8 <= a.k_valid) {
      const uint4 in = *reinterpret_cast<const uint4*>(src);
      const std::uint32_t iw[4] = {in.x, in.y, in.z, in.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) e[i] = (iw[i / 2] >> (16 * (i % 2))) & 0xFFFFu;
    } else {
      for (int i = 0; i < 8 && k + i < a.k_valid; ++i) e[i] = src[i];
    }
    *reinterpret_cast<uint4*>(xs + t * token_stride + chunk * kPairChunkBytes + w * 16) =
        make_uint4(e[0] | (e[4] << 16), e[1] | (e[5] << 16), e[2] | (e[6] << 16), e[3] | (e[7] << 16));
  }
}

}  // namespace detail

// Grid as gemv_kernel: x = active-expert slot, y = 32-row group. Warp w takes row half w % 2 and
// chunk groups w / 2, w / 2 + 4, ...; lane (g, q) = (lane / 4, lane % 4) loads chunk 4·group + q of
// rows g and g + 8 of its half.
template <int kStage>
__global__ void __launch_bounds__(kGemvMmaThreads) gemv_mma_kernel(StageArgs a) {
#if defined(MXG_HAVE_MMA_BF16)
  extern __shared__ __attribute__((aligned(16))) unsigned char gemv_mma_shared[];
  __shared__ float slice_sums[kGemvMmaSlices][kGemvMmaRows][kGemvMmaTokens];

  const int slot = blockIdx.x;
  if (slot >= a.routing.totals[0]) return;
  const int expert = a.routing.active[slot];
  const int first = a.routing.offsets[expert];
  const int count = a.routing.offsets[expert + 1] - first;
  const int group = blockIdx.y;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int half = warp & 1, slice = warp >> 1;
  const int g = lane >> 2, q = lane & 3;

  std::int64_t row[2];
  bool row_present[2];
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    row[j] = group_row<kStage>(a, group, 16 * half + g + 8 * j, row_present[j]);
  }

  const std::int64_t chunks = (a.k_valid + kChunkElements - 1) / kChunkElements;
  const std::int64_t chunk_groups = (chunks + 3) / 4;
  const std::int64_t token_stride = chunks * kPairChunkBytes + kPairTokenPad;  // gemv_mma_token_stride
  for (int t0 = 0; t0 < count; t0 += kGemvMmaTokens) {
    const int tokens = count - t0 < kGemvMmaTokens ? count - t0 : kGemvMmaTokens;
    __syncthreads();  // the previous pass is done with the inputs and the slice sums
    detail::stage_pair_inputs<kStage>(a, first + t0, tokens, chunks, token_stride, gemv_mma_shared);
    __syncthreads();

    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const bool has_token = g < tokens;  // this lane's B column is a real token
    const unsigned char* x_token = gemv_mma_shared + g * token_stride;
    for (std::int64_t c0 = slice; c0 < chunk_groups; c0 += kGemvMmaSlices * kGemvMmaUnroll) {
      uint4 packed[kGemvMmaUnroll][2];
      std::uint32_t scale_byte[kGemvMmaUnroll][2];
#pragma unroll
      for (int u = 0; u < kGemvMmaUnroll; ++u) {
        const std::int64_t chunk = 4 * (c0 + std::int64_t(kGemvMmaSlices) * u) + q;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          packed[u][j] = make_uint4(0u, 0u, 0u, 0u);
          scale_byte[u][j] = 127u;
          if (row_present[j] && chunk < chunks) {
            packed[u][j] = load_chunk(a.weights, expert, row[j], chunk);
            scale_byte[u][j] = load_scale(a.weights, expert, row[j], chunk);
          }
        }
      }
#pragma unroll
      for (int u = 0; u < kGemvMmaUnroll; ++u) {
        const std::int64_t group_index = c0 + std::int64_t(kGemvMmaSlices) * u;
        if (group_index >= chunk_groups) break;  // the same for the whole warp
        const std::int64_t chunk = 4 * group_index + q;
        std::uint32_t w0[16], w1[16];
        detail::decode_chunk_pairs(packed[u][0], scale_byte[u][0], w0);
        detail::decode_chunk_pairs(packed[u][1], scale_byte[u][1], w1);
        const bool real = has_token && chunk < chunks;
        const unsigned char* x_chunk = x_token + chunk * kPairChunkBytes;
#pragma unroll
        for (int s = 0; s < 8; ++s) {
          uint2 b = make_uint2(0u, 0u);
          if (real) b = *reinterpret_cast<const uint2*>(x_chunk + 8 * s);
          const std::uint32_t af[4] = {w0[2 * s], w1[2 * s], w0[2 * s + 1], w1[2 * s + 1]};
          mma_bf16_16816(acc, af, b.x, b.y);
        }
      }
    }

    // acc: rows g, g + 8 of this half, tokens 2q, 2q + 1. Slices are summed in a fixed order.
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      slice_sums[slice][16 * half + g + 8 * j][2 * q] = acc[2 * j];
      slice_sums[slice][16 * half + g + 8 * j][2 * q + 1] = acc[2 * j + 1];
    }
    __syncthreads();

    const int tid = threadIdx.x;
    auto row_sum = [&](int r, int t) {
      float v = slice_sums[0][r][t];
#pragma unroll
      for (int k = 1; k < kGemvMmaSlices; ++k) v += slice_sums[k][r][t];
      return v;
    };
    if (kStage == 1) {
      const int i = tid & 15, t = tid >> 4;  // unit 16*group + i, token t of the pass
      const std::int64_t unit = 16 * std::int64_t(group) + i;
      if (t < tokens && unit < a.out_valid) {
        const float* bias = a.bias + expert * a.bias_stride;
        const float gate = row_sum(i, t) + bias[unit];
        const float up = row_sum(16 + i, t) + bias[a.intermediate_padded + unit];
        const std::int64_t pair = a.routing.sorted_pairs[first + t0 + t];
        a.act[pair * a.act_stride + unit] = f32_to_bf16(swiglu(gate, up, a.swiglu_limit, a.alpha));
      }
    } else {
      const int i = tid & 31, t = tid >> 5;
      const std::int64_t hidden_row = std::int64_t(kGemvMmaRows) * group + i;
      if (t < tokens && hidden_row < a.out_valid) {
        const std::int64_t pair = a.routing.sorted_pairs[first + t0 + t];
        a.partial[pair * a.partial_stride + hidden_row] = row_sum(i, t) + a.bias[expert * a.bias_stride + hidden_row];
      }
    }
  }
#else
  (void)a;
  __builtin_trap();  // the launcher selects this kernel only where tensor cores exist
#endif
}

}  // namespace mxg::gpu
