// The converter steps of ggml_layout.hpp: whole rows copied for the split, one 16-byte group at a
// time for the nibble transform, one 17-byte block at a time for the packing.
#include "kernels/layout/ggml_layout.hpp"

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "kernels/layout/geometry.hpp"

namespace mxg::layout::ggml {

namespace {

// [E, rows, ...] with rows even: experts, rows and bytes per row (any dtype, rank >= 2).
ExpertRows gate_up_rows(const Tensor& t, std::string_view label) {
  if (t.rank() < 2) {
    input_error(label, fmt::format("shape {} has no rows: the gate/up split needs [E, 2I, ...]", shape_string(t.shape())));
  }
  const ExpertRows g = expert_rows(t.shape(), dtype_size(t.dtype()), std::nullopt, label);
  require_multiple(label, "rows (dim 1)", g.rows, 2, "the gate/up split");
  return g;
}

Shape with_rows(const Shape& shape, std::int64_t rows) {
  Shape s = shape;
  s[1] = rows;
  return s;
}

// Visits every row of the gate and up halves with the byte offsets of that row in the half and of
// its source row (gate_up_source_row) in the [E, 2I, ...] tensor, so that splitting and joining
// read the one formula in opposite directions.
template <class Visit>
void for_each_half_row(const ExpertRows& g, GateUpSplit split, Visit visit) {
  const std::int64_t n = g.rows / 2;
  for (std::int64_t e = 0; e < g.experts; ++e) {
    for (GateUpHalf h : {GateUpHalf::gate, GateUpHalf::up}) {
      for (std::int64_t j = 0; j < n; ++j) {
        visit(h, (e * n + j) * g.row_bytes, (e * g.rows + gate_up_source_row(split, h, j, g.rows)) * g.row_bytes);
      }
    }
  }
}

void require_code_groups(const Tensor& codes, std::string_view label, std::string_view operation) {
  require_byte_dtype(codes, label, operation);
  if (codes.rank() < 1 || codes.shape().back() != kCodeBytes) {
    input_error(label, fmt::format("shape {} must end in {} code bytes per 32-element block ({})",
                                   shape_string(codes.shape()), kCodeBytes, operation));
  }
}

// Rewrites every 16-byte group: element k is read at `from(k)` and written at `to(k)`.
template <class From, class To>
Tensor move_nibbles(const Tensor& codes, From from, To to, Threads threads) {
  Tensor out(codes.dtype(), codes.shape());
  const auto* src = reinterpret_cast<const std::uint8_t*>(codes.bytes().data());
  auto* dst = reinterpret_cast<std::uint8_t*>(out.mutable_bytes().data());
  const std::int64_t groups = static_cast<std::int64_t>(codes.nbytes()) / kCodeBytes;
  parallel_for(groups, static_cast<std::int64_t>(codes.nbytes()), threads, [&](std::int64_t g0, std::int64_t g1) {
    for (std::int64_t g = g0; g < g1; ++g) {
      const std::uint8_t* s = src + g * kCodeBytes;
      std::array<std::uint8_t, kCodeBytes> d{};
      for (std::int64_t k = 0; k < kBlockElems; ++k) {
        const NibbleAt a = from(k), b = to(k);
        const std::uint8_t code = a.high ? s[a.byte] >> 4 : s[a.byte] & 0xF;
        d[b.byte] = static_cast<std::uint8_t>(d[b.byte] | (b.high ? code << 4 : code));
      }
      std::memcpy(dst + g * kCodeBytes, d.data(), d.size());
    }
  });
  return out;
}

Tensor map_scale_bytes(const Tensor& scales, ScaleByte s, bool inverse, std::string_view label) {
  require_byte_dtype(scales, label, "the scale-byte step");
  Tensor out(scales.dtype(), scales.shape());
  const auto src = scales.as<std::uint8_t>();
  const auto dst = out.as_mut<std::uint8_t>();
  // The inverse of a +-1 exponent shift is the opposite shift (uint8 wrap-around makes both bijections).
  const ScaleByte step = !inverse ? s : s == ScaleByte::halved ? ScaleByte::doubled
                                      : s == ScaleByte::doubled ? ScaleByte::halved : ScaleByte::right;
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = converted_scale_byte(src[i], step);
  return out;
}

}  // namespace

GateUpPair split_gate_up(const Tensor& t, GateUpSplit split, std::string_view label) {
  const ExpertRows g = gate_up_rows(t, label);
  const Shape half_shape = with_rows(t.shape(), g.rows / 2);
  GateUpPair p{Tensor(t.dtype(), half_shape), Tensor(t.dtype(), half_shape)};
  const std::byte* whole = t.bytes().data();
  std::byte* gate = p.gate.mutable_bytes().data();
  std::byte* up = p.up.mutable_bytes().data();
  const auto rb = static_cast<std::size_t>(g.row_bytes);
  for_each_half_row(g, split, [&](GateUpHalf h, std::int64_t half_at, std::int64_t whole_at) {
    std::memcpy((h == GateUpHalf::gate ? gate : up) + half_at, whole + whole_at, rb);
  });
  return p;
}

Tensor join_gate_up(const GateUpPair& halves, GateUpSplit split, std::string_view label) {
  const Tensor& gate = halves.gate;
  if (gate.dtype() != halves.up.dtype() || gate.shape() != halves.up.shape()) {
    input_error(label, fmt::format("gate is {} {} but up is {} {}: the halves must match", dtype_name(gate.dtype()),
                                   shape_string(gate.shape()), dtype_name(halves.up.dtype()),
                                   shape_string(halves.up.shape())));
  }
  if (gate.rank() < 2) {
    input_error(label, fmt::format("shape {} has no rows: gate and up must be [E, I, ...]", shape_string(gate.shape())));
  }
  const ExpertRows h = expert_rows(gate.shape(), dtype_size(gate.dtype()), std::nullopt, label);
  Tensor out(gate.dtype(), with_rows(gate.shape(), 2 * h.rows));
  const ExpertRows g{h.experts, 2 * h.rows, h.row_bytes};
  std::byte* whole = out.mutable_bytes().data();
  const std::byte* gate_bytes = gate.bytes().data();
  const std::byte* up_bytes = halves.up.bytes().data();
  const auto rb = static_cast<std::size_t>(g.row_bytes);
  for_each_half_row(g, split, [&](GateUpHalf half, std::int64_t half_at, std::int64_t whole_at) {
    std::memcpy(whole + whole_at, (half == GateUpHalf::gate ? gate_bytes : up_bytes) + half_at, rb);
  });
  return out;
}

Tensor to_ggml_nibbles(const Tensor& codes, std::string_view label, Threads threads) {
  require_code_groups(codes, label, "the nibble transform");
  return move_nibbles(codes, checkpoint_nibble, ggml_nibble, threads);
}

Tensor to_checkpoint_nibbles(const Tensor& codes, std::string_view label, Threads threads) {
  require_code_groups(codes, label, "the inverse nibble transform");
  return move_nibbles(codes, ggml_nibble, checkpoint_nibble, threads);
}

Tensor convert_scale_bytes(const Tensor& scales, ScaleByte s, std::string_view label) {
  return map_scale_bytes(scales, s, false, label);
}

Tensor undo_scale_bytes(const Tensor& scales, ScaleByte s, std::string_view label) {
  return map_scale_bytes(scales, s, true, label);
}

Tensor pack_blocks(const Tensor& codes, const Tensor& scales, std::string_view label, Threads threads) {
  require_code_groups(codes, label, "block_mxfp4 packing");
  require_byte_dtype(scales, label, "block_mxfp4 packing");
  if (codes.rank() != 4) {
    input_error(label, fmt::format("codes shape {} must be [E, rows, K/32, 16]", shape_string(codes.shape())));
  }
  const Shape want{codes.dim(0), codes.dim(1), codes.dim(2)};
  if (scales.shape() != want) {
    input_error(label, fmt::format("scales shape {} does not match codes {}: expected {}", shape_string(scales.shape()),
                                   shape_string(codes.shape()), shape_string(want)));
  }
  const std::int64_t blocks = shape_numel(want);
  Tensor out(DType::U8, {want[0], want[1], want[2] * kBlockBytes});
  const auto* c = reinterpret_cast<const std::uint8_t*>(codes.bytes().data());
  const auto* s = reinterpret_cast<const std::uint8_t*>(scales.bytes().data());
  auto* o = reinterpret_cast<std::uint8_t*>(out.mutable_bytes().data());
  parallel_for(blocks, static_cast<std::int64_t>(out.nbytes()), threads, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      o[scale_offset(b)] = s[b];
      std::memcpy(o + code_offset(b, 0), c + b * kCodeBytes, kCodeBytes);
    }
  });
  return out;
}

BlockParts unpack_blocks(const Tensor& packed, std::string_view label, Threads threads) {
  require_byte_dtype(packed, label, "block_mxfp4 unpacking");
  if (packed.rank() != 3 || packed.dim(2) % kBlockBytes != 0) {
    input_error(label, fmt::format("shape {} must be [E, rows, K/32 * {}]", shape_string(packed.shape()), kBlockBytes));
  }
  const std::int64_t nb = packed.dim(2) / kBlockBytes;
  BlockParts p{Tensor(DType::U8, {packed.dim(0), packed.dim(1), nb, kCodeBytes}),
               Tensor(DType::U8, {packed.dim(0), packed.dim(1), nb})};
  const std::int64_t blocks = packed.dim(0) * packed.dim(1) * nb;
  const auto* in = reinterpret_cast<const std::uint8_t*>(packed.bytes().data());
  auto* c = reinterpret_cast<std::uint8_t*>(p.codes.mutable_bytes().data());
  auto* s = reinterpret_cast<std::uint8_t*>(p.scales.mutable_bytes().data());
  parallel_for(blocks, static_cast<std::int64_t>(packed.nbytes()), threads, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      s[b] = in[scale_offset(b)];
      std::memcpy(c + b * kCodeBytes, in + code_offset(b, 0), kCodeBytes);
    }
  });
  return p;
}

// The merged tensor is [gate | up] rows, which is exactly what joining the halves of the `halves`
// split produces: one formula serves both.
Tensor merge_gate_up(const GateUpPair& halves, std::string_view label) {
  return join_gate_up(halves, GateUpSplit::halves, label);
}

GateUpPair unmerge_gate_up(const Tensor& merged, std::string_view label) {
  return split_gate_up(merged, GateUpSplit::halves, label);
}

Tensor bias_to_f32(const Tensor& bias, std::string_view label) {
  switch (bias.dtype()) {
    case DType::F32:
      return bias;
    case DType::BF16:
    case DType::F16: {
      const auto values = bias.to_f32();
      return Tensor::from_f32(values, bias.shape(), DType::F32);
    }
    default:
      input_error(label, fmt::format("dtype = {} but a bias must be F32, BF16 or F16", dtype_name(bias.dtype())));
  }
}

}  // namespace mxg::layout::ggml
