// `mxguard diagnose weights`: name the chain of known layout transforms (expert selection, tp-slice,
// pad, de-interleave, weight / scale shuffle) that maps a checkpoint expert tensor to what a serving
// process held (a dump), and whether the kernel, told gate_mode / is_shuffled, reads it back.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "harness/diagnose/dump/dump_file.hpp"
#include "harness/diagnose/weights/kernel_read.hpp"
#include "harness/diagnose/weights/report.hpp"
#include "harness/diagnose/weights/search.hpp"
#include "harness/data/data_dir.hpp"
#include "harness/matrix/scenarios.hpp"
#include "kernels/common/errors.hpp"
#include "reference/checkpoint.hpp"

namespace mxg::cli {
namespace {

namespace fs = std::filesystem;
namespace dw = mxg::diagnose::weights;

struct DiagnoseWeightsOptions {
  std::vector<std::string> checkpoints;
  std::int64_t layer = 0;
  std::string tensor, dump;
  std::optional<std::string> dump_tensor, gate_mode, is_shuffled;
  std::optional<std::int64_t> tp, ep;
  std::size_t max_mismatches = 5;
  unsigned threads = 0;
  std::optional<std::string> scenarios;  // unset: the shipped cases/scenarios.json (harness/data)
  bool json = false, quiet = false;
};

// Progress only where a search takes long enough to wonder about (a 64 MiB dump and up).
constexpr std::size_t kProgressBytes = std::size_t{64} << 20;

// The flag if given, else the sidecar's value, each labelled with where it came from.
template <class T>
std::optional<dw::Sourced<T>> resolve(const std::optional<T>& flag, std::string_view flag_name,
                                      const std::optional<T>& from_sidecar, const std::string& sidecar_label) {
  if (flag) return dw::Sourced<T>{*flag, std::string(flag_name)};
  if (from_sidecar) return dw::Sourced<T>{*from_sidecar, sidecar_label};
  return std::nullopt;
}

// What the sidecar says about the rank, beside what the bytes say: agreement or not, as notes.
void add_sidecar_notes(const diagnose::DumpSidecar& sidecar, const diagnose::SidecarTensor* info,
                       layout::ExpertTensor kind, dw::Diagnosis& d) {
  if (info && !info->is_shuffled && !dw::is_bias(kind)) {
    d.notes.push_back(fmt::format("the sidecar records no is_shuffled attribute on '{}' (a dispatcher reading it "
                                  "with a default of false sees false)",
                                  info->name));
  }
  if (d.verdict != dw::Verdict::exact || !d.chain) return;
  const dw::Chain& c = *d.chain;
  if (sidecar.tp_size && sidecar.tp_rank && c.slice.sliced && !c.slice.any_tp) {
    const std::int64_t ep = sidecar.ep_size.value_or(1);
    if (ep >= 1 && *sidecar.tp_size % ep == 0) {
      // SGLang: moe_tp_size = tp / ep, and a rank's MoE tp rank is tp_rank % moe_tp_size.
      const dw::TpRank moe{*sidecar.tp_size / ep, *sidecar.tp_rank % (*sidecar.tp_size / ep)};
      const bool agrees = std::ranges::find(c.slice.ranks, moe) != c.slice.ranks.end();
      d.notes.push_back(fmt::format("the sidecar's tp_rank {} of tp {} (MoE tp {}, rank {}) {} the slice found", *sidecar.tp_rank,
                                    *sidecar.tp_size, moe.tp, moe.rank, agrees ? "agrees with" : "DISAGREES with"));
    }
  }
  if (sidecar.ep_size && sidecar.ep_rank && *sidecar.ep_size > 1 && c.checkpoint_experts % *sidecar.ep_size == 0) {
    const std::int64_t n = c.checkpoint_experts / *sidecar.ep_size, first = *sidecar.ep_rank * n;
    bool agrees = static_cast<std::int64_t>(c.experts.size()) == n;
    for (std::size_t i = 0; agrees && i < c.experts.size(); ++i) agrees = c.experts[i] == first + static_cast<std::int64_t>(i);
    d.notes.push_back(fmt::format("the sidecar's ep_rank {} of ep {} (experts {}..{}) {} the experts found", *sidecar.ep_rank,
                                  *sidecar.ep_size, first, first + n - 1, agrees ? "agrees with" : "DISAGREES with"));
  }
}

int run_diagnose_weights(const DiagnoseWeightsOptions& o) {
  const layout::ExpertTensor kind = *layout::parse_expert_tensor(o.tensor);  // CLI::IsMember checked it
  const ref::CheckpointSet checkpoint = ref::CheckpointSet::open({o.checkpoints.begin(), o.checkpoints.end()});
  const std::string name = ref::expert_tensor_name(o.layer, o.tensor);
  const ref::CheckpointSet::Found ck = checkpoint.get(name);
  const diagnose::DumpTensor dump = diagnose::load_dump_tensor(o.dump, o.dump_tensor, kind);

  // The sidecar's settings are defaults; the flags win.
  const std::optional<diagnose::DumpSidecar> sidecar = diagnose::find_dump_sidecar(o.dump);
  const diagnose::SidecarTensor* info = sidecar ? diagnose::tensor_info(*sidecar, dump.name) : nullptr;
  if (info) diagnose::check_sidecar_matches(*sidecar, *info, dump.tensor);
  const std::string from_sidecar = sidecar ? fmt::format("sidecar {}", sidecar->path.string()) : "";
  const auto tp = resolve(o.tp, "--tp", sidecar ? sidecar->tp_size : std::nullopt, from_sidecar);
  const auto ep = resolve(o.ep, "--ep", sidecar ? sidecar->ep_size : std::nullopt, from_sidecar);
  std::optional<GateMode> flag_gate;
  if (o.gate_mode) flag_gate = parse_gate_mode(*o.gate_mode);
  std::optional<bool> flag_shuffled;
  if (o.is_shuffled) flag_shuffled = *o.is_shuffled == "true";
  const auto gate = resolve(flag_gate, "--gate-mode", sidecar ? sidecar->gate_mode : std::nullopt, from_sidecar);
  const auto shuffled = resolve(flag_shuffled, "--is-shuffled", info ? info->is_shuffled : std::nullopt,
                                fmt::format("{} tensor '{}'", from_sidecar, dump.name));

  // The slice is cut by the MoE tp = tp / ep (SGLang: moe_tp_size); the dump holds E / ep experts.
  dw::SpaceLimits limits;
  if (ep) limits.ep = ep->value;
  if (tp) {
    const std::int64_t e = ep ? ep->value : 1;
    if (e < 1 || tp->value % e != 0) {
      throw InputError(fmt::format("ep = {} ({}) does not divide tp = {} ({})", e, ep ? ep->from : "default",
                                   tp->value, tp->from));
    }
    limits.tp = tp->value / e;
  }

  dw::SearchOptions options;
  options.max_records = o.max_mismatches;
  options.threads = o.threads;
  if (!o.quiet && dump.tensor.nbytes() >= kProgressBytes) {
    options.progress = [](std::string_view line) { fmt::print(stderr, "diagnose weights: {}\n", line); };
  }
  const dw::WeightsQuery query{kind, ck.tensor, dump.tensor, limits, fmt::format("{}: tensor '{}'", ck.file.string(), name),
                               diagnose::dump_label(dump)};

  dw::WeightsReport r;
  r.tensor = name;
  r.checkpoint_source = ck.file.string();
  r.dump_source = dump.file.string();
  r.dump_tensor = dump.name;
  r.checkpoint_dtype = ck.tensor.dtype();
  r.checkpoint_shape = ck.tensor.shape();
  r.dump_dtype = dump.tensor.dtype();
  r.dump_shape = dump.tensor.shape();
  r.tp = tp;
  r.ep = ep;
  r.diagnosis = dw::diagnose_weights(query, options);
  if (sidecar) add_sidecar_notes(*sidecar, info, kind, r.diagnosis);

  // The kernel read needs what the kernel is told: both flags for gate_up weights and scales;
  // down_proj is read alike in both gate modes and biases under every flag.
  const bool needs_gate = dw::is_gate_up(kind) && !dw::is_bias(kind);
  const bool needs_flag = !dw::is_bias(kind);
  const bool missing_half = (needs_gate && !gate) || (needs_flag && !shuffled);
  if ((gate || shuffled) && missing_half && !flag_gate && !flag_shuffled) {
    // Only the sidecar spoke, and it records half of what the kernel is told (SGLang's dump of an
    // unshuffled tensor has a gate mode but no is_shuffled attribute): judge the layout alone.
    r.diagnosis.notes.push_back(fmt::format(
        "kernel read not judged: the sidecar records {} but not {} for this tensor; pass both flags to judge it",
        gate ? "the gate mode" : "is_shuffled", gate ? "is_shuffled" : "the gate mode"));
  } else if (gate || shuffled) {
    if (missing_half) {
      throw InputError(fmt::format("the kernel read of {} needs {} as well (a flag, or a sidecar that records it)",
                                   o.tensor, !shuffled ? "--is-shuffled" : "--gate-mode"));
    }
    // Scenarios only annotate the findings: an unset option without shipped data leaves them out.
    std::vector<matrix::Scenario> scenarios;
    if (const auto file = data::annotation_scenarios(o.scenarios); !file.empty()) scenarios = matrix::load_scenarios(file);
    dw::KernelRead read;
    // A flag this tensor's read does not depend on takes any value (it is not printed).
    if (r.diagnosis.chain) {
      read = dw::check_kernel_read(*r.diagnosis.chain, gate ? gate->value : GateMode::Separated,
                                   shuffled ? shuffled->value : false, scenarios);
    }
    r.kernel = dw::KernelReadReport{needs_gate ? gate : std::nullopt, needs_flag ? shuffled : std::nullopt, read};
  }
  if (o.json) {
    fmt::print("{}\n", dw::to_json(r).dump(2));
  } else {
    fmt::print("{}", dw::render_text(r));
  }
  return dw::report_exit_code(r);
}

void add_diagnose_weights_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DiagnoseWeightsOptions>();
  auto* diag = app.get_subcommand("diagnose");
  auto* cmd = diag->add_subcommand(
      "weights",
      "Find the chain of known layout transforms that maps a checkpoint expert tensor to the tensor a\n"
      "serving process held (a dump): expert-parallel expert selection, tp-slice (tp, rank) and padding,\n"
      "gate/up de-interleave, weight or scale shuffle family. Candidates are screened by 16x16-tile\n"
      "fingerprints; a match is claimed only after every non-padding byte compared equal. With\n"
      "--gate-mode / --is-shuffled it also says whether the kernel, told those, reads the checkpoint back.");
  cmd->add_option("--checkpoint", o->checkpoints,
                  "A .safetensors file, a model.safetensors.index.json, or a folder holding either; repeat to\n"
                  "search several in order")
      ->required();
  cmd->add_option("--layer", o->layer, "Layer number L (model.layers.L.mlp.experts.*)")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tensor", o->tensor, "The checkpoint tensor: gate_up_proj_blocks | gate_up_proj_scales |\n"
                                         "gate_up_proj_bias | down_proj_blocks | down_proj_scales | down_proj_bias")
      ->required()
      ->check(CLI::IsMember({"gate_up_proj_blocks", "gate_up_proj_scales", "gate_up_proj_bias", "down_proj_blocks",
                             "down_proj_scales", "down_proj_bias"}));
  cmd->add_option("--dump", o->dump, "The dump: a .safetensors or .npy file (memory-mapped); a sidecar FILE.json\n"
                                     "beside it supplies --tp/--ep/--gate-mode/--is-shuffled defaults")
      ->required();
  cmd->add_option("--dump-tensor", o->dump_tensor,
                  "Tensor name in --dump (default: the only tensor, else the one named after --tensor or its\n"
                  "serving-stack name, e.g. w13_weight)");
  cmd->add_option("--tp", o->tp, "Search only tp-slices of this tensor-parallel size (MoE tp = tp / ep)")
      ->check(parallel_size());
  cmd->add_option("--ep", o->ep, "Search only dumps holding E / ep experts (expert-parallel size)")
      ->check(parallel_size());
  cmd->add_option("--gate-mode", o->gate_mode, "What the kernel is told: separated | interleave")
      ->check(CLI::IsMember({"separated", "interleave"}));
  cmd->add_option("--is-shuffled", o->is_shuffled, "What the kernel is told: true | false")
      ->check(CLI::IsMember({"true", "false"}));
  cmd->add_option("--max-mismatches", o->max_mismatches, "Mismatching tiles listed when nothing matches exactly")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o->threads, "Threads comparing bytes (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--scenarios", o->scenarios, "Named historical scenarios to match (empty: none;\n"
                  "default: cases/scenarios.json in the mxguard data directory)");
  cmd->add_flag("--json", o->json, "Print the report as JSON (schema mxguard.diagnose.weights/1)");
  cmd->add_flag("--quiet", o->quiet, "No progress lines on stderr");
  cmd->footer(
      "The pipeline it prints, in the order the loader applies it (steps that did not happen are left out):\n"
      "  experts(32..63 of 128) → tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072) → deinterleave\n"
      "    → shuffle-weight(separated | interleaved, gate-up) | shuffle-scale(...) → cast(F32) | view(I8)\n"
      "Verdicts: EXACT (every byte that is not padding matches; padding is never compared), PARTIAL (the\n"
      "closest chain, the fraction of 16x16 tiles that match and the first mismatching tiles as dump\n"
      "expert / row block / column block with both values), UNKNOWN (no chain of known transforms\n"
      "explains the dump). --tp/--ep narrow the search; a restriction that finds nothing is dropped and\n"
      "the report says so. Progress goes to stderr for dumps of 64 MiB and more.\n"
      "Examples:\n"
      "  # what did rank 1 of a tp 4 server do to layer 0's w13 weights? (dump + sidecar from\n"
      "  # ci/tools/dump_moe_weights.py)\n"
      "  mxguard diagnose weights --checkpoint gpt-oss-120b/ --layer 0 --tensor gate_up_proj_blocks \\\n"
      "      --dump layer0.rank1.safetensors --dump-tensor w13_weight\n"
      "  #   EXACT    tp-slice(tp=4, rank=1) → pad(I_p=768, H_p=3072) → deinterleave\n"
      "  #              → shuffle-weight(interleaved, gate-up)\n"
      "  # the original incident: those bytes read by the separated preshuffle-off kernel (exit 1)\n"
      "  mxguard diagnose weights --checkpoint gpt-oss-120b/ --layer 0 --tensor gate_up_proj_blocks \\\n"
      "      --dump layer0.rank1.safetensors --gate-mode separated --is-shuffled false\n"
      "  #   kernel read ...: INCONSISTENT ... historical scenario 'gptoss-rocm-gsm8k-0.21'\n"
      "  # scales as AITER holds them (2-D, padded), for a script\n"
      "  mxguard diagnose weights --checkpoint gpt-oss-20b/ --layer 3 --tensor down_proj_scales \\\n"
      "      --dump w2_scale.npy --tp 8 --json\n"
      "Exit codes: 0 EXACT (and, with --gate-mode/--is-shuffled, the kernel reads the checkpoint back);\n"
      "1 EXACT but the kernel read is inconsistent (a layout bug), or PARTIAL / UNKNOWN; 2 usage or input\n"
      "error (missing file or tensor, a shape or dtype that cannot be this tensor, a contradicting sidecar)\n");
  cmd->callback([&action, o] { action = [o] { return run_diagnose_weights(*o); }; });
}

const CommandRegistration reg{91, add_diagnose_weights_command};

}  // namespace
}  // namespace mxg::cli
