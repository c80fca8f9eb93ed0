// Independent device-layout preparation for the backend tests (see device_prep.hpp).
#include "kernels/backend/tests/device_prep.hpp"

#include <limits>
#include <random>

#include "kernels/tensor/dtype.hpp"

namespace mxg::testing {
namespace {

constexpr std::uint8_t kNanScale = 0xFF;
constexpr std::uint8_t kOneScale = 0x7F;  // what mxguard puts in scale-shuffle padding

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

// Device row of gate (half 0) or up (half 1) unit j of an expert with I_p units.
std::int64_t device_row(RowOrder order, int half, std::int64_t j, std::int64_t ip) {
  switch (order) {
    case RowOrder::Checkpoint:
      return 2 * j + half;
    case RowOrder::Separated:
      return half * ip + j;
    case RowOrder::BlockInterleaved:
      return (j / 16) * 32 + half * 16 + j % 16;
  }
  return -1;
}

// §6: 16-row x 16-byte tiles stored row-major, tiles in row-block-major order, per expert.
std::vector<std::uint8_t> tile_shuffle(const std::vector<std::uint8_t>& plain, std::int64_t experts, std::int64_t rows,
                                       std::int64_t row_bytes) {
  std::vector<std::uint8_t> out(plain.size());
  const std::int64_t tiles_per_row_block = row_bytes / 16;
  for (std::int64_t e = 0; e < experts; ++e) {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < row_bytes; ++c) {
        const std::int64_t tile = (r / 16) * tiles_per_row_block + c / 16;
        const std::int64_t dst = e * rows * row_bytes + tile * 256 + (r % 16) * 16 + c % 16;
        out[static_cast<std::size_t>(dst)] = plain[static_cast<std::size_t>(e * rows * row_bytes + r * row_bytes + c)];
      }
    }
  }
  return out;
}

// §7: 32-row x 8-column blocks, inside ordered (col%4, row%16, (col%8)/4, (row%32)/16).
// `rows_out` >= rows (padding rows), cols padded to a multiple of 8; padding is 0x7F.
Tensor scale_shuffle(const std::vector<std::uint8_t>& plain, std::int64_t rows, std::int64_t cols,
                     std::int64_t rows_out) {
  const std::int64_t cols_out = round_up(cols, 8);
  std::vector<std::uint8_t> padded(static_cast<std::size_t>(rows_out * cols_out), kOneScale);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      padded[static_cast<std::size_t>(r * cols_out + j)] = plain[static_cast<std::size_t>(r * cols + j)];
    }
  }
  Tensor out(DType::U8, {rows_out, cols_out});
  auto dst = out.as_mut<std::uint8_t>();
  for (std::int64_t r = 0; r < rows_out; ++r) {
    for (std::int64_t j = 0; j < cols_out; ++j) {
      const std::int64_t block = (r / 32) * (cols_out / 8) + j / 8;
      const std::int64_t inner = (((j % 4) * 16 + r % 16) * 2 + (j % 8) / 4) * 2 + (r % 32) / 16;
      dst[static_cast<std::size_t>(block * 256 + inner)] = padded[static_cast<std::size_t>(r * cols_out + j)];
    }
  }
  return out;
}

Tensor bytes_tensor(const std::vector<std::uint8_t>& v, Shape shape) {
  Tensor t(DType::U8, std::move(shape));
  std::copy(v.begin(), v.end(), t.as_mut<std::uint8_t>().begin());
  return t;
}

}  // namespace

FusedMoeProblem prepare_device(const CanonicalMoe& m, const DevicePrep& prep, const KernelFlags& flags) {
  const auto& s = m.shape;
  const std::int64_t E = s.experts, H = s.hidden, Hp = s.hidden_padded, I = s.units, Ip = s.intermediate_padded;
  const std::int64_t T = s.tokens, k = s.topk;
  const std::int64_t rows13 = 2 * Ip, kb13 = Hp / 2, sc13 = Hp / 32, kb2 = Ip / 2, sc2 = Ip / 32;
  std::mt19937_64 rng(0x9e3779b97f4a7c15ULL);
  std::uniform_int_distribution<int> byte(0, 255);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Padding is zero (what SGLang's loader leaves) unless poisoned.
  auto pad_byte = [&] { return prep.poison_padding ? static_cast<std::uint8_t>(byte(rng)) : std::uint8_t{0}; };
  const std::uint8_t pad_scale = prep.poison_padding ? kNanScale : 0;
  const float pad_value = prep.poison_padding ? nan : 0.0f;

  // w13: plain row-major in the device row order, then optional tiles.
  std::vector<std::uint8_t> w13(static_cast<std::size_t>(E * rows13 * kb13));
  std::vector<std::uint8_t> s13(static_cast<std::size_t>(E * rows13 * sc13), pad_scale);
  for (auto& b : w13) b = pad_byte();
  std::vector<float> b13(static_cast<std::size_t>(E * rows13), pad_value);
  for (std::int64_t e = 0; e < E; ++e) {
    for (std::int64_t j = 0; j < I; ++j) {
      for (int half = 0; half < 2; ++half) {
        const std::int64_t src = e * 2 * I + 2 * j + half;
        const std::int64_t dst = e * rows13 + device_row(prep.weight_rows, half, j, Ip);
        for (std::int64_t c = 0; c < H / 2; ++c) {
          w13[static_cast<std::size_t>(dst * kb13 + c)] = m.w13[static_cast<std::size_t>(src * H / 2 + c)];
        }
        for (std::int64_t c = 0; c < H / 32; ++c) {
          s13[static_cast<std::size_t>(dst * sc13 + c)] = m.w13_scale[static_cast<std::size_t>(src * H / 32 + c)];
        }
        b13[static_cast<std::size_t>(e * rows13 + device_row(prep.bias_rows, half, j, Ip))] =
            m.w13_bias[static_cast<std::size_t>(src)];
      }
    }
  }
  std::vector<std::uint8_t> w2(static_cast<std::size_t>(E * Hp * kb2));
  for (auto& b : w2) b = pad_byte();
  std::vector<std::uint8_t> s2(static_cast<std::size_t>(E * Hp * sc2), pad_scale);
  std::vector<float> b2(static_cast<std::size_t>(E * Hp), pad_value);
  for (std::int64_t e = 0; e < E; ++e) {
    for (std::int64_t o = 0; o < H; ++o) {
      const std::int64_t src = e * H + o, dst = e * Hp + o;
      for (std::int64_t c = 0; c < I / 2; ++c) w2[static_cast<std::size_t>(dst * kb2 + c)] = m.w2[static_cast<std::size_t>(src * I / 2 + c)];
      for (std::int64_t c = 0; c < I / 32; ++c) s2[static_cast<std::size_t>(dst * sc2 + c)] = m.w2_scale[static_cast<std::size_t>(src * I / 32 + c)];
      b2[static_cast<std::size_t>(dst)] = m.w2_bias[static_cast<std::size_t>(src)];
    }
  }
  if (prep.tile_shuffle) {
    w13 = tile_shuffle(w13, E, rows13, kb13);
    w2 = tile_shuffle(w2, E, Hp, kb2);
  }

  FusedMoeProblem p;
  p.w13 = bytes_tensor(w13, {E, rows13, kb13});
  p.w2 = bytes_tensor(w2, {E, Hp, kb2});
  switch (prep.scales) {
    case ScaleShuffle::None:
      p.w13_scale = bytes_tensor(s13, {E * rows13, sc13});
      p.w2_scale = bytes_tensor(s2, {E * Hp, sc2});
      break;
    case ScaleShuffle::Separated:
      p.w13_scale = scale_shuffle(s13, E * rows13, sc13, round_up(E * rows13, 256));
      p.w2_scale = scale_shuffle(s2, E * Hp, sc2, round_up(E * Hp, 256));
      break;
    case ScaleShuffle::Interleaved:
      p.w13_scale = scale_shuffle(s13, E * rows13, sc13, E * rows13);
      p.w2_scale = scale_shuffle(s2, E * Hp, sc2, E * Hp);
      break;
  }
  p.w13_bias = Tensor::from_f32(b13, {E, rows13});
  p.w2_bias = Tensor::from_f32(b2, {E, Hp});

  std::vector<float> hidden(static_cast<std::size_t>(T * Hp), pad_value);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < H; ++h) hidden[static_cast<std::size_t>(t * Hp + h)] = m.hidden[static_cast<std::size_t>(t * H + h)];
  }
  p.hidden = Tensor::from_f32(hidden, {T, Hp}, DType::BF16);
  Tensor ids(DType::I32, {T, k});
  std::copy(m.topk_ids.begin(), m.topk_ids.end(), ids.as_mut<std::int32_t>().begin());
  p.topk_ids = ids;
  p.topk_weights = Tensor::from_f32(m.topk_weights, {T, k});
  p.gate_mode = flags.gate_mode;
  p.is_shuffled = flags.is_shuffled;
  p.hidden_pad = flags.hidden_pad;
  p.intermediate_pad = flags.intermediate_pad;
  return p;
}

DevicePrep consistent_prep(GateMode mode, bool is_shuffled) {
  DevicePrep prep;
  prep.weight_rows = mode == GateMode::Separated ? RowOrder::Separated : RowOrder::BlockInterleaved;
  prep.bias_rows = RowOrder::Separated;
  prep.tile_shuffle = is_shuffled;
  prep.scales = !is_shuffled ? ScaleShuffle::None
                             : (mode == GateMode::Separated ? ScaleShuffle::Separated : ScaleShuffle::Interleaved);
  return prep;
}

KernelFlags correct_flags(const MoeShape& s, GateMode mode, bool is_shuffled) {
  return {mode, is_shuffled, s.hidden_padded - s.hidden, s.intermediate_padded - s.units};
}

}  // namespace mxg::testing
