// Every candidate explanation of an observed output: each matrix combination prepared exactly as
// the matrix prepares it (harness/matrix/device_prep), with the loader's zero padding, and run on
// a backend; with what the derivation and the named scenarios say about it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/diagnose/output/observed_layer.hpp"
#include "harness/matrix/dimensions.hpp"
#include "harness/matrix/scenarios.hpp"
#include "kernels/backend/fused_moe.hpp"

namespace mxg::diagnose {

struct Candidate {
  matrix::Combination combo;
  std::size_t output = 0;   // index into CandidateSet::outputs
  bool consistent = true;   // derive() on every rank in scope
  std::string derivation;   // why not, for an inconsistent one (the first rank that is not)
  std::vector<std::string> scenarios;  // named scenarios it realises on some rank in scope
};

struct CandidateSet {
  std::vector<Candidate> candidates;  // in the order the combinations were given
  // F32 [T, H], one per kernel run, summed over the ranks in scope. Combinations whose buffers and
  // kernel arguments are the same on every rank (padding from-i-over-tp where no rank loaded more
  // than I/tp units) share one run: the data cannot tell them apart.
  std::vector<Tensor> outputs;
  BackendInfo backend;
  std::int64_t kernel_runs = 0;  // backend calls (outputs x ranks)
  double seconds = 0;
};

// (combinations done, of total): called after each combination's run on every rank.
using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;

// Buffers are prepared once per (prep, shuffles, padding) and rank, and shared by the combinations
// that differ only in what the kernel is told (is_shuffled, gate mode). Exceptions of the backend
// propagate (InputError, InfraError).
CandidateSet run_candidates(const LayerSetup& layer, const std::vector<matrix::Combination>& combos,
                            const std::vector<matrix::Scenario>& scenarios, FusedMoeBackend& backend,
                            const ProgressFn& progress = {});

}  // namespace mxg::diagnose
