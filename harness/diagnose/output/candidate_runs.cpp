// Running every candidate combination (see candidate_runs.hpp).
#include "harness/diagnose/output/candidate_runs.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "harness/diagnose/output/serving_padding.hpp"
#include "harness/matrix/derivation.hpp"
#include "harness/matrix/device_prep.hpp"

namespace mxg::diagnose {

namespace {

bool same_buffers(const matrix::Combination& a, const matrix::Combination& b) {
  return a.prep == b.prep && a.weight_shuffle == b.weight_shuffle && a.scale_shuffle == b.scale_shuffle &&
         a.padding == b.padding;
}

void add_into(Tensor& sum, const Tensor& y) {
  const std::vector<float> values = y.to_f32();
  auto dst = sum.as_mut<float>();
  for (std::size_t i = 0; i < values.size(); ++i) dst[i] += values[i];
}

}  // namespace

CandidateSet run_candidates(const LayerSetup& layer, const std::vector<matrix::Combination>& combos,
                            const std::vector<matrix::Scenario>& scenarios, FusedMoeBackend& backend,
                            const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<matrix::RankSlice> slices;
  std::vector<matrix::Geometry> geometries;
  for (const auto& shape : layer.ranks) {
    slices.push_back(matrix::slice_rank(layer.inputs, shape));
    geometries.push_back(matrix::rank_geometry(slices.back()));
  }
  // Where no rank loaded more units than I/tp, both ways of computing intermediate_pad state the
  // same pad: same buffers, same kernel arguments, same output.
  const bool paddings_agree = std::ranges::all_of(
      geometries, [](const matrix::Geometry& g) { return g.loaded_units == g.units_over_tp; });

  CandidateSet set;
  set.backend = backend.info();
  std::vector<matrix::Combination> runs;  // the combination each output is computed with
  std::map<std::string, std::size_t> run_of;
  for (const auto& c : combos) {
    Candidate cand{c};
    for (std::size_t r = 0; r < geometries.size(); ++r) {
      const matrix::Derivation d = matrix::derive(c, geometries[r]);
      if (!d.consistent && cand.consistent) {
        cand.consistent = false;
        cand.derivation = layer.ranks.size() > 1 ? fmt::format("rank {}: {}", layer.ranks[r].rank, d.reason) : d.reason;
      }
      for (auto& name : matrix::realised_scenarios(scenarios, c, geometries[r])) {
        if (std::ranges::find(cand.scenarios, name) == cand.scenarios.end()) cand.scenarios.push_back(std::move(name));
      }
    }
    matrix::Combination run = c;
    if (paddings_agree) run.padding = matrix::Padding::Correct;
    const auto [it, added] = run_of.emplace(matrix::combination_id(run), runs.size());
    if (added) runs.push_back(run);
    cand.output = it->second;
    set.candidates.push_back(std::move(cand));
  }

  // How many candidates each run completes, for the progress count.
  std::vector<std::size_t> candidates_of(runs.size(), 0);
  for (const auto& cand : set.candidates) ++candidates_of[cand.output];

  const std::int64_t tokens = layer.inputs.hidden.dim(0), hidden = layer.inputs.hidden.dim(1);
  set.outputs.assign(runs.size(), Tensor());
  std::vector<bool> done(runs.size(), false);
  std::size_t finished = 0;
  for (std::size_t first = 0; first < runs.size(); ++first) {
    if (done[first]) continue;
    // Buffers depend on prep, shuffles and padding only: prepared once per rank for the group.
    std::vector<FusedMoeProblem> problems;
    for (std::size_t r = 0; r < slices.size(); ++r) {
      problems.push_back(matrix::prepare_problem(slices[r], runs[first], layer.ranks[r]));
      zero_fill_padding(problems.back());
    }
    for (std::size_t i = first; i < runs.size(); ++i) {
      if (done[i] || !same_buffers(runs[i], runs[first])) continue;
      Tensor sum(DType::F32, {tokens, hidden});
      for (FusedMoeProblem& p : problems) {
        p.is_shuffled = runs[i].is_shuffled;
        p.gate_mode = runs[i].gate_mode;
        add_into(sum, backend.run(p));
        ++set.kernel_runs;
      }
      set.outputs[i] = std::move(sum);
      done[i] = true;
      finished += candidates_of[i];
      if (progress) progress(finished, set.candidates.size());
    }
  }
  set.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return set;
}

}  // namespace mxg::diagnose
