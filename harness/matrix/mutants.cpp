// The mutants: each edits the bytes the kernel will read for one expert, through the read map.
#include "harness/matrix/mutants.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"

namespace mxg::matrix {

const std::vector<Mutant>& builtin_mutants() {
  static const std::vector<Mutant> mutants = {
      {"swap-tile", "w13: the first two 16x16-byte gate tiles of one expert read swapped"},
      {"scale-off-by-one", "w13: gate units 0-15 read their scale from the next block"},
      {"gate-up-swap-tile", "w13: gate and up rows of units 0-15 swapped (weights and scales)"},
      {"pad-wrong-by-16", "intermediate_pad 16 units too large: the last 16 loaded units dropped"},
      {"bias-shift", "w13 bias read one row off for one expert"},
      {"nibble-flip", "w13: nibble order flipped in the gate row of unit 0"},
      {"w2-swap-tile", "w2: the first two 16x16-byte tiles of one expert read swapped"},
      {"k-block-dropped", "w13: the last real 32-input block of every row of one expert read as zero"},
      {"pad-prerounded", "intermediate_pad handed over pre-rounded for CK-tile and doubled for the w13 rows "
                         "(pad // 64 * 64 * 2, vLLM #42098 / #44679): the kernel drops loaded units"},
  };
  return mutants;
}

namespace {
template <class F>
void for_gate_tile(std::int64_t cols, F&& f) {
  for (std::int64_t u = 0; u < 16; ++u)
    for (std::int64_t c = 0; c < cols; ++c) f(u, c);
}
}  // namespace

void apply_mutant(const std::string& name, const DeviceMaps& m, std::int64_t e, FusedMoeProblem& p) {
  auto w13 = p.w13.as_mut<std::uint8_t>();
  auto s13 = p.w13_scale.as_mut<std::uint8_t>();
  if (name == "swap-tile") {
    for_gate_tile(16, [&](std::int64_t u, std::int64_t c) {
      std::swap(w13[m.read_w13(e, u, 0, c)], w13[m.read_w13(e, u, 0, c + 16)]);
    });
  } else if (name == "scale-off-by-one") {
    for (std::int64_t u = 0; u < 16; ++u) s13[m.read_w13_scale(e, u, 0, 0)] = s13[m.read_w13_scale(e, u, 0, 1)];
  } else if (name == "gate-up-swap-tile") {
    for_gate_tile(m.w13_row_bytes(), [&](std::int64_t u, std::int64_t c) {
      std::swap(w13[m.read_w13(e, u, 0, c)], w13[m.read_w13(e, u, 1, c)]);
    });
    for (std::int64_t u = 0; u < 16; ++u)
      for (std::int64_t c = 0; c < m.g.hidden_padded / 32; ++c)
        std::swap(s13[m.read_w13_scale(e, u, 0, c)], s13[m.read_w13_scale(e, u, 1, c)]);
  } else if (name == "pad-wrong-by-16") {
    p.intermediate_pad += 16;
  } else if (name == "pad-prerounded") {
    // The kernel then rounds it (CK-tile) or takes it (FlyDSL) once more; capped below I_p, the
    // largest pad a problem can state.
    const std::int64_t ip = m.g.intermediate_padded;
    p.intermediate_pad = std::min(p.intermediate_pad / 64 * 64 * 2, ip - 1);
  } else if (name == "bias-shift") {
    auto bias = p.w13_bias.as_mut<float>();
    const std::int64_t rows = p.w13_bias.dim(1);
    const std::int64_t used = m.g.loaded_units;
    for (std::int64_t r = 0; r + 1 < used; ++r) bias[e * rows + r] = bias[e * rows + r + 1];
  } else if (name == "nibble-flip") {
    for (std::int64_t c = 0; c < m.g.hidden / 2; ++c) {
      auto& b = w13[m.read_w13(e, 0, 0, c)];
      b = static_cast<std::uint8_t>((b >> 4) | (b << 4));
    }
  } else if (name == "w2-swap-tile") {
    auto w2 = p.w2.as_mut<std::uint8_t>();
    for (std::int64_t r = 0; r < 16; ++r)
      for (std::int64_t c = 0; c < 16; ++c) std::swap(w2[m.read_w2(e, r, c)], w2[m.read_w2(e, r, c + 16)]);
  } else if (name == "k-block-dropped") {
    const std::int64_t last_block = m.g.hidden / 32 - 1;
    for (std::int64_t u = 0; u < m.g.loaded_units; ++u)
      for (int h = 0; h < 2; ++h) s13[m.read_w13_scale(e, u, h, last_block)] = 0;  // 2^-127: the block vanishes
  } else {
    std::vector<std::string> names;
    for (const auto& mu : builtin_mutants()) names.push_back(mu.name);
    throw InputError(fmt::format("unknown mutant '{}' (mutants: {})", name, fmt::join(names, ", ")));
  }
}

}  // namespace mxg::matrix

namespace mxg::matrix {

std::vector<report::MutantResult> score_mutants(const std::vector<report::CombinationResult>& results) {
  std::vector<report::MutantResult> out;
  bool any_mutant_run = std::any_of(results.begin(), results.end(), [](const auto& r) { return !r.mutant.empty(); });
  if (!any_mutant_run) return out;
  for (const auto& mu : builtin_mutants()) {
    report::MutantResult m{mu.name, mu.description, false, 0, 0};
    for (const auto& r : results) {
      if (r.mutant != mu.name) continue;
      ++m.combinations;
      if (r.verdict == report::Verdict::Caught) ++m.detecting;
    }
    m.killed = m.detecting > 0;
    out.push_back(m);
  }
  return out;
}

}  // namespace mxg::matrix
