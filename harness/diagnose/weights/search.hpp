// `diagnose weights`' engine: which chain of known transforms maps a checkpoint expert tensor to a
// dumped one. Takes tensors (memory-mapped views work; nothing is copied except biases, which are
// converted to f32). Steps:
//   1. enumerate the chains whose output has the dump's size and shape (candidates.hpp)
//   2. screen each by probe-tile fingerprints, which also pair dump experts with checkpoint experts
//      (screen.hpp)
//   3. compare the best-scoring ones byte for byte (verify.hpp): the chain under which the most
//      tiles match wins (so a smaller tp window calling real data "padding" loses to the true one),
//      and it is EXACT only when every non-padding element matches; exact chains matching as many
//      tiles (identical bytes outside padding) are listed as alternatives
//   4. otherwise report that chain with its tile match fraction and first mismatching tiles:
//      PARTIAL at >= partial_threshold of tiles, else UNKNOWN (no chain of the library explains it).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/diagnose/weights/candidates.hpp"
#include "harness/diagnose/weights/chain.hpp"
#include "harness/diagnose/weights/screen.hpp"
#include "harness/diagnose/weights/verify.hpp"
#include "kernels/tensor/tensor.hpp"

namespace mxg::diagnose::weights {

struct WeightsQuery {
  layout::ExpertTensor kind = layout::ExpertTensor::gate_up_proj_blocks;
  Tensor checkpoint;  // checkpoint layout, all experts of the layer
  Tensor dump;        // what the serving process held
  SpaceLimits limits; // tp / ep restrictions (the MoE tp of the slice; ep: E / ep dump experts)
  std::string checkpoint_label = "checkpoint", dump_label = "dump";  // for error messages
};

using ProgressFn = std::function<void(std::string_view line)>;

struct SearchOptions {
  ScreenOptions screen;
  std::size_t max_records = 5;      // mismatching tiles listed
  int exact_verifications = 32;     // fully-voted candidates verified for an exact match, at most
  int closest_verifications = 3;    // candidates verified when nothing is exact
  double partial_threshold = 0.5;   // tile fraction below which the layout is called unknown
  unsigned threads = 0;             // verification threads (0: all)
  ProgressFn progress;              // stage lines for long searches (may be empty)
};

enum class Verdict : std::uint8_t { exact, partial, unknown };
std::string_view verdict_name(Verdict v);  // "EXACT", "PARTIAL", "UNKNOWN"

struct ScoredChain {
  Chain chain;
  double score = 0;  // screening score
};

struct Diagnosis {
  Verdict verdict = Verdict::unknown;
  std::optional<Chain> chain;        // the exact chain, or the closest one
  Verification verification;         // of `chain`
  std::vector<Chain> alternatives;   // other exact chains explaining as many elements
  std::vector<ScoredChain> runners_up;  // next-best screened candidates (not exact)
  std::int64_t candidates = 0;       // chains screened
  std::int64_t verified = 0;         // chains compared byte for byte
  // Dump experts whose content matches several checkpoint experts equally at every probe (e.g. an
  // all-zero tensor): their pairing is a guess that only the bytes confirm.
  std::vector<std::int64_t> ambiguous_experts;
  std::vector<std::string> notes;    // e.g. why nothing fits, a restriction that had to be dropped
  double seconds = 0;
};

// InputError (naming the labels) for a kind / dtype / shape that cannot be a checkpoint tensor of
// this kind, or a dump dtype that cannot hold it.
Diagnosis diagnose_weights(const WeightsQuery& query, const SearchOptions& options = {});

// The operands the search reads (exposed for the benchmark and tests): bytes of blocks / scales,
// canonical f32 values (+0 for -0, one NaN) of biases in `storage`.
struct PreparedOperands {
  Operands ops;
  std::vector<float> checkpoint_values, dump_values;  // biases only; `ops` points into them
  PreparedOperands() = default;
  PreparedOperands(PreparedOperands&&) = default;  // vectors keep their buffers when moved
  PreparedOperands(const PreparedOperands&) = delete;
};
PreparedOperands prepare_operands(layout::ExpertTensor kind, const Tensor& checkpoint, const Tensor& dump);

}  // namespace mxg::diagnose::weights
