// Geometry and printing of a transform chain.
#include "harness/diagnose/weights/chain.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "kernels/layout/index_maps.hpp"

namespace mxg::diagnose::weights {

namespace lm = mxg::layout;
using lm::ExpertTensor;

std::string_view shuffle_name(Shuffle s) {
  switch (s) {
    case Shuffle::none: return "none";
    case Shuffle::separated: return "separated";
    case Shuffle::interleaved: return "interleaved";
  }
  return "?";
}

bool is_gate_up(ExpertTensor k) {
  return k == ExpertTensor::gate_up_proj_blocks || k == ExpertTensor::gate_up_proj_scales ||
         k == ExpertTensor::gate_up_proj_bias;
}
bool is_bias(ExpertTensor k) { return k == ExpertTensor::gate_up_proj_bias || k == ExpertTensor::down_proj_bias; }
bool is_scales(ExpertTensor k) {
  return k == ExpertTensor::gate_up_proj_scales || k == ExpertTensor::down_proj_scales;
}
bool is_blocks(ExpertTensor k) {
  return k == ExpertTensor::gate_up_proj_blocks || k == ExpertTensor::down_proj_blocks;
}

ChainGeometry chain_geometry(const Chain& c) {
  ChainGeometry g;
  const lm::TpWindow& w = c.slice.window;
  g.dump_experts = static_cast<std::int64_t>(c.experts.size());
  g.rows = w.dst_rows;
  g.cols = w.dst_row_bytes;
  g.real_rows = c.slice.bias_zeroed ? c.slice.hidden : std::max<std::int64_t>(0, w.row_end - w.row_begin);
  g.real_cols = std::max<std::int64_t>(0, w.byte_end - w.byte_begin);
  const bool shuffled_scales = is_scales(c.kind) && c.shuffle != Shuffle::none;
  g.padded_cols = shuffled_scales ? lm::scale_padded_cols(g.cols) : g.cols;
  if (shuffled_scales && c.shuffle == Shuffle::separated) {
    g.dump_elements = lm::separated_scale_padded_rows(g.dump_experts * g.rows) * g.padded_cols;
  } else {
    g.dump_elements = g.dump_experts * g.rows * g.padded_cols;
  }
  return g;
}

std::int64_t explained_elements(const Chain& c) {
  const ChainGeometry g = chain_geometry(c);
  return g.dump_experts * g.real_rows * g.real_cols;
}

namespace {

// "1..3, 5, 7..9"
std::string ranges(std::vector<std::int64_t> v) {
  std::ranges::sort(v);
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += j == i ? fmt::format("{}", v[i]) : fmt::format("{}..{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

bool identity_experts(const Chain& c) {
  if (static_cast<std::int64_t>(c.experts.size()) != c.checkpoint_experts) return false;
  for (std::size_t d = 0; d < c.experts.size(); ++d) {
    if (c.experts[d] != static_cast<std::int64_t>(d)) return false;
  }
  return true;
}

bool contiguous_experts(const Chain& c) {
  for (std::size_t d = 0; d < c.experts.size(); ++d) {
    if (c.experts[d] < 0 || c.experts[d] != c.experts[0] + static_cast<std::int64_t>(d)) return false;
  }
  return !c.experts.empty();
}

std::string expert_list(const Chain& c, std::size_t limit) {
  std::vector<std::string> items;
  for (std::size_t d = 0; d < c.experts.size() && d < limit; ++d) {
    items.push_back(c.experts[d] < 0 ? "?" : fmt::format("{}", c.experts[d]));
  }
  if (c.experts.size() > limit) items.push_back(fmt::format("… {} in all", c.experts.size()));
  return fmt::format("[{}]", fmt::join(items, ", "));
}

std::string shuffle_step(const Chain& c) {
  const bool blocks = is_blocks(c.kind);
  const std::string_view op = blocks ? "shuffle-weight" : "shuffle-scale";
  if (is_gate_up(c.kind)) {
    return c.shuffle == Shuffle::separated ? fmt::format("{}(separated)", op)
                                           : fmt::format("{}(interleaved, gate-up)", op);
  }
  // down_proj: the interleaved family without gate_up is the separated formula. For scales the two
  // differ only in the row padding of the stacked matrix, visible when E'*rows % 256 != 0.
  if (blocks) return fmt::format("{}(separated≡interleaved)", op);
  const ChainGeometry g = chain_geometry(c);
  if (g.dump_experts * g.rows % lm::kScaleRowPadding == 0) return fmt::format("{}(separated≡interleaved)", op);
  return fmt::format("{}({})", op, shuffle_name(c.shuffle));
}

}  // namespace

std::string describe_ranks(const Slice& s) {
  if (s.any_tp && s.ranks.empty()) return s.bias_zeroed ? "rank≠0 of any tp" : "rank=0 of any tp";
  if (s.ranks.empty()) return "?";
  if (s.ranks.size() == 1) return fmt::format("tp={}, rank={}", s.ranks[0].tp, s.ranks[0].rank);
  std::map<std::int64_t, std::vector<std::int64_t>> by_tp;
  for (const TpRank& r : s.ranks) by_tp[r.tp].push_back(r.rank);
  std::vector<std::int64_t> tps;
  for (const auto& [tp, _] : by_tp) tps.push_back(tp);
  if (by_tp.size() == 1) return fmt::format("tp={}, rank={}", tps[0], ranges(by_tp.begin()->second));
  const bool all_zero = std::ranges::all_of(s.ranks, [](const TpRank& r) { return r.rank == 0; });
  if (all_zero) return fmt::format("tp={}, rank=0", ranges(tps));
  const bool every_other_rank = std::ranges::all_of(by_tp, [](const auto& kv) {
    return static_cast<std::int64_t>(kv.second.size()) == kv.first - 1 &&
           std::ranges::none_of(kv.second, [](std::int64_t r) { return r == 0; });
  });
  if (every_other_rank) return fmt::format("tp={}, rank=1..tp-1", ranges(tps));
  std::vector<std::string> each;
  for (const TpRank& r : s.ranks) each.push_back(fmt::format("tp={}, rank={}", r.tp, r.rank));
  if (each.size() <= 3) return fmt::format("{}", fmt::join(each, " | "));
  return fmt::format("{} or {} more equivalent (tp, rank)", each.front(), each.size() - 1);
}

std::string describe_experts(const Chain& c) {
  if (identity_experts(c)) return fmt::format("all {} experts", c.checkpoint_experts);
  if (contiguous_experts(c)) {
    return fmt::format("experts {}..{} of {}", c.experts.front(), c.experts.back(), c.checkpoint_experts);
  }
  return fmt::format("experts {} of {}", expert_list(c, 8), c.checkpoint_experts);
}

std::vector<std::string> chain_steps(const Chain& c) {
  std::vector<std::string> steps;
  if (!identity_experts(c)) {
    steps.push_back(contiguous_experts(c) ? fmt::format("experts({}..{} of {})", c.experts.front(),
                                                        c.experts.back(), c.checkpoint_experts)
                                          : fmt::format("experts({} of {})", expert_list(c, 8), c.checkpoint_experts));
  }
  if (c.slice.sliced) {
    steps.push_back(fmt::format("tp-slice({})", describe_ranks(c.slice)));
    if (c.slice.bias_zeroed) steps.emplace_back("zero(down bias off rank 0)");
    switch (c.kind) {
      case ExpertTensor::gate_up_proj_bias:
        steps.push_back(fmt::format("pad(I_p={})", c.slice.intermediate_padded));
        break;
      case ExpertTensor::down_proj_bias:
        steps.push_back(fmt::format("pad(H_p={})", c.slice.hidden_padded));
        break;
      default:
        steps.push_back(fmt::format("pad(I_p={}, H_p={})", c.slice.intermediate_padded, c.slice.hidden_padded));
    }
  }
  if (c.deinterleave) steps.emplace_back("deinterleave");
  if (c.shuffle != Shuffle::none) steps.push_back(shuffle_step(c));
  if (c.dump_dtype != c.checkpoint_dtype) {
    steps.push_back(fmt::format("{}({})", is_bias(c.kind) ? "cast" : "view", dtype_name(c.dump_dtype)));
  }
  if (steps.empty()) steps.emplace_back("identity");
  return steps;
}

std::string chain_string(const Chain& c) { return fmt::format("{}", fmt::join(chain_steps(c), " → ")); }

}  // namespace mxg::diagnose::weights
