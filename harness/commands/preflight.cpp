// `mxguard preflight`: predict what SGLang will do to a model's MoE weights on the ROCm AITER MXFP4
// path (from config.json, parallel sizes and environment) and flag known-bad combinations, before
// any GPU is touched.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "harness/data/data_dir.hpp"
#include "harness/matrix/scenarios.hpp"
#include "harness/preflight/checks.hpp"
#include "harness/preflight/report.hpp"
#include "harness/preflight/sglang_plan.hpp"
#include "kernels/backend/pad_convention.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::cli {
namespace {

struct PreflightOptions {
  std::string model_config, behaviour = "current", quantization, backend = "aiter";
  std::vector<std::string> env;
  std::int64_t tp = 1, ep = 1;
  std::optional<std::string> gate_mode, shuffle, is_shuffled, intermediate_pad, kernel_pads;
  std::optional<std::string> scenarios;  // unset: the shipped cases/scenarios.json (harness/data)
  bool json = false;
};

// In GitHub Actions a WARN becomes a warning annotation and a line in the step summary, so a hazard
// preflight cannot decide is seen without failing the step. A summary file that cannot be written
// is itself only a warning: the verdict stands.
void annotate_for_ci(const preflight::Verdict& v) {
  if (!v.warned()) return;
  const char* actions = std::getenv("GITHUB_ACTIONS");
  const bool in_actions = actions != nullptr && std::string_view(actions) == "true";
  std::string summary = "### mxguard preflight: WARN (exit 0)\n\n";
  for (const auto& f : v.findings) {
    if (f.severity != preflight::Severity::Warning || f.rule == "unverified") continue;
    if (in_actions) fmt::print("::warning title=Preflight WARN ({})::{}\n", f.rule, f.message);
    summary += fmt::format("- **{}**: {}\n", f.rule, f.message);
  }
  const char* path = std::getenv("GITHUB_STEP_SUMMARY");
  if (path == nullptr || *path == '\0') return;
  // fopen of a FIFO without a reader would block: only a regular file (or none yet) is appended to.
  struct stat st {};
  if (::stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    fmt::print(stderr, "mxguard preflight: warning: cannot append to $GITHUB_STEP_SUMMARY ({}: not a regular file)\n",
               path);
    return;
  }
  std::FILE* f = std::fopen(path, "a");
  if (f == nullptr || std::fputs(summary.c_str(), f) < 0) {
    fmt::print(stderr, "mxguard preflight: warning: cannot append to $GITHUB_STEP_SUMMARY ({})\n", path);
  }
  if (f != nullptr) std::fclose(f);
}

int run_preflight(const PreflightOptions& o) {
  preflight::PlanRequest r;
  r.model = preflight::load_model_config(o.model_config);
  r.tp = o.tp;
  r.ep = o.ep;
  r.env = preflight::parse_env_assignments(o.env);
  r.behaviour = *preflight::parse_behaviour(o.behaviour);  // CLI::IsMember checked the spelling
  r.quantization_flag = !o.quantization.empty();
  if (o.gate_mode) r.gate_mode = parse_gate_mode(*o.gate_mode);
  if (o.shuffle) {
    r.shuffle = *o.shuffle == "none"                ? matrix::WeightShuffle::None
                : *o.shuffle == "separated-tiles"   ? matrix::WeightShuffle::SeparatedTiles
                                                    : matrix::WeightShuffle::InterleavedTiles;
  }
  if (o.is_shuffled) r.is_shuffled = *o.is_shuffled == "true";
  if (o.intermediate_pad) {
    r.padding = *o.intermediate_pad == "loaded" ? matrix::Padding::Correct : matrix::Padding::FromIOverTp;
  }
  if (o.kernel_pads) r.kernel_pads = parse_pad_convention(*o.kernel_pads);
  const preflight::Plan plan = preflight::plan_sglang(r);
  // Scenarios only annotate the findings: an unset option without shipped data leaves them out.
  std::vector<matrix::Scenario> scenarios;
  if (const auto file = data::annotation_scenarios(o.scenarios); !file.empty()) scenarios = matrix::load_scenarios(file);
  const preflight::Verdict verdict = preflight::check_plan(plan, scenarios);
  if (o.json) {
    fmt::print("{}\n", preflight::to_json(plan, verdict).dump(2));
  } else {
    fmt::print("{}", preflight::render_text(plan, verdict));
  }
  annotate_for_ci(verdict);
  return verdict.bad() ? exit_code::kRegression : exit_code::kPass;
}

void add_preflight_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<PreflightOptions>();
  auto* cmd = app.add_subcommand(
      "preflight",
      "Predict, in milliseconds and without a GPU, what SGLang will do to a model's MoE weights on the\n"
      "ROCm AITER MXFP4 fused-MoE path, and flag known-bad combinations with their reason.\n"
      "The prediction, step by step:\n"
      "  load          GPT-OSS checkpoint w13 rows are interleaved (g0,u0,g1,u1,...)\n"
      "  tp-slice      each MoE-tp rank (tp / ep) takes whole 32-unit blocks: ceil((I/32)/tp)*32 units\n"
      "  pad           I_p = round_up(I/tp, 256), H_p = round_up(H, 256); intermediate_pad = I_p - I/tp\n"
      "  de-interleave w13 weights, scales and bias to [gate | up] halves\n"
      "  shuffle       separated-tiles (is_guinterleave=False) or interleaved-tiles (a16w4, gate_up)\n"
      "  is_shuffled   what the AITER dispatcher sees (false picks a preshuffle_off kernel)\n"
      "  gate mode     interleave iff SGLANG_USE_AITER_MOE_GU_ITLV is true (default true, environ.py)\n"
      "Known-bad rules (exit 1):\n"
      "  layout-mismatch               the kernel's read for (is_shuffled, gate mode) does not recover the\n"
      "                                bytes the shuffle wrote (LAYOUTS.md §8, the matrix derivation)\n"
      "  separated-at-tp               gate mode separated at tp >= 2 (sglang#27201: GSM8K ~0.04)\n"
      "  intermediate-pad-drops-units  a rank loaded more units than the kernel computes for intermediate_pad\n"
      "                                in its pad convention (--kernel-pad-convention)\n"
      "Hazards that depend on a choice preflight cannot see (WARN, exit 0, a GitHub annotation in CI):\n"
      "  intermediate-pad-kernel-dependent  I_p - I/tp hides loaded units (tp 4: 736 vs 720; tp 8: 384 vs\n"
      "                                360) from a kernel taking the pad exactly (AITER FlyDSL, vLLM #44679)\n"
      "                                but not from CK-tile, which rounds it down (152 -> 128 at tp 8)\n"
      "Things a static look cannot confirm (GPU arch, the AITER kernel picked) are printed as warnings.\n"
      "--sglang-behaviour picks the SGLang code, since the incident's versions differ in code, not env:\n"
      "  pre-fix    before sglang#26884: a16w4 interleaved tiles whatever the env, is_shuffled lost\n"
      "  separated  sglang#26884 until #27201: de-interleave + separated tiles, gate mode separated\n"
      "  current    sglang#27201 onward: the env var picks interleave (default) or separated, consistently");
  cmd->add_option("--model-config", o->model_config,
                  "The model's config.json (hidden_size, intermediate_size, num_local_experts,\n"
                  "num_experts_per_tok, quantization_config.quant_method)")
      ->required();
  cmd->add_option("--env", o->env, "KEY=VALUE as the server will see it (repeatable), e.g.\n"
                                   "SGLANG_USE_AITER_MOE_GU_ITLV=0; an explicit value beats the default");
  cmd->add_option("--tp", o->tp, "Tensor-parallel size")->capture_default_str()->check(parallel_size());
  cmd->add_option("--ep", o->ep, "Expert-parallel size (divides --tp; MoE tp = tp / ep)")
      ->capture_default_str()
      ->check(parallel_size());
  cmd->add_option("--quantization", o->quantization,
                  "mxfp4: predict the MXFP4 path even when config.json has no quantization_config")
      ->check(CLI::IsMember({"mxfp4"}));
  cmd->add_option("--backend", o->backend, "MoE backend (only aiter is modelled)")
      ->capture_default_str()
      ->check(CLI::IsMember({"aiter"}));
  cmd->add_option("--sglang-behaviour", o->behaviour, "pre-fix | separated | current (see above)")
      ->capture_default_str()
      ->check(CLI::IsMember({"pre-fix", "separated", "current"}));
  cmd->add_option("--gate-mode", o->gate_mode, "What-if override of the dispatched gate mode: separated | interleave")
      ->check(CLI::IsMember({"separated", "interleave"}));
  cmd->add_option("--shuffle", o->shuffle,
                  "What-if override of the weight and scale shuffle family:\n"
                  "none | separated-tiles | interleaved-tiles")
      ->check(CLI::IsMember({"none", "separated-tiles", "interleaved-tiles"}));
  cmd->add_option("--is-shuffled", o->is_shuffled, "What-if override of the dispatcher's is_shuffled: true | false")
      ->check(CLI::IsMember({"true", "false"}));
  cmd->add_option("--intermediate-pad", o->intermediate_pad,
                  "What-if override of how intermediate_pad is computed: i-over-tp (SGLang: I_p - I/tp)\n"
                  "| loaded (I_p - units loaded on the rank, the fix)")
      ->check(CLI::IsMember({"i-over-tp", "loaded"}));
  cmd->add_option("--kernel-pad-convention", o->kernel_pads,
                  "How the AITER kernel that runs reads the pads, when known: exact (FlyDSL) | granule\n"
                  "(CK-tile: rounded down to 64 / 128). Unset: AITER's dispatcher decides (a WARN, not BAD)")
      ->check(CLI::IsMember({"exact", "granule"}));
  cmd->add_option("--scenarios", o->scenarios, "Named historical scenarios to match (empty: none;\n"
                  "default: cases/scenarios.json in the mxguard data directory)");
  cmd->add_flag("--json", o->json, "Print the report as JSON (schema mxguard.preflight/1)");
  cmd->footer(
      "Examples (the incident's three configurations):\n"
      "  # 1. the original incident (GSM8K 0.88 -> 0.21): interleaved tiles read by the separated,\n"
      "  #    preshuffle_off kernel -> BAD layout-mismatch\n"
      "  mxguard preflight --model-config gpt-oss-120b/config.json --sglang-behaviour pre-fix \\\n"
      "      --env SGLANG_USE_AITER=1 --env SGLANG_USE_AITER_MOE_GU_ITLV=0 --tp 1\n"
      "  # 2. the first fix at tp 2 (GSM8K ~0.04): separated tiles, separated kernel -> BAD separated-at-tp\n"
      "  mxguard preflight --model-config gpt-oss-120b/config.json --sglang-behaviour separated --tp 2\n"
      "  # 3. today's default, interleave (tp 1 and 2 OK; at tp 4 and 8 intermediate_pad = I_p - I/tp\n"
      "  #    hides loaded units from an exact-pad kernel only -> WARN intermediate-pad-kernel-dependent,\n"
      "  #    exit 0; BAD with --kernel-pad-convention exact, OK with granule or --intermediate-pad loaded)\n"
      "  mxguard preflight --model-config gpt-oss-20b/config.json --env SGLANG_USE_AITER=1 --tp 2\n"
      "  mxguard preflight --model-config gpt-oss-120b/config.json --env SGLANG_USE_AITER=1 --tp 8\n"
      "  mxguard preflight --model-config gpt-oss-120b/config.json --tp 8 --kernel-pad-convention exact\n"
      "  mxguard preflight --model-config gpt-oss-20b/config.json --tp 8 --intermediate-pad loaded --json\n"
      "Exit codes: 0 no known-bad combination (WARN lines included), 1 known-bad (a BAD line says why), 2 bad input (missing\n"
      "config field, non-MoE model, tp not dividing, bad --env syntax)\n");
  cmd->callback([&action, o] { action = [o] { return run_preflight(*o); }; });
}

const CommandRegistration reg{80, add_preflight_command};

}  // namespace
}  // namespace mxg::cli
