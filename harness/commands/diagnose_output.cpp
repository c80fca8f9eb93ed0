// `mxguard diagnose output`: when only one layer's wrong output is at hand, run every matrix
// combination on the host backend and rank them by how well they reproduce it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/cli_limits.hpp"
#include "harness/command.hpp"
#include "harness/diagnose/output/candidate_runs.hpp"
#include "harness/diagnose/output/explanations.hpp"
#include "harness/diagnose/output/observed_layer.hpp"
#include "harness/diagnose/output/report.hpp"
#include "harness/matrix/dimensions.hpp"
#include "harness/data/data_dir.hpp"
#include "harness/matrix/scenarios.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::cli {
namespace {

namespace fs = std::filesystem;

struct DiagnoseOutputOptions {
  std::vector<std::string> checkpoints;
  std::int64_t layer = 0;
  std::string hidden, observed;
  std::optional<std::string> hidden_tensor, observed_tensor;
  std::optional<std::string> topk_ids, topk_weights, topk_ids_tensor, topk_weights_tensor;
  std::optional<std::string> config;
  std::optional<std::int64_t> topk;
  std::int64_t tp = 1;
  std::optional<std::int64_t> rank, tokens;
  std::string backend = "host";
  int threads = 0;
  std::vector<std::string> only;
  std::size_t top = 5;
  double explained_nmse = 1e-2, min_margin = 10;
  std::optional<std::string> scenarios;  // unset: the shipped cases/scenarios.json (harness/data)
  bool json = false;
};

// "prep=deinterleaved,interleaved" -> {"prep": ["deinterleaved", "interleaved"]}; values are
// checked by expand_combinations.
std::map<std::string, std::vector<std::string>> parse_only(const std::vector<std::string>& only) {
  std::map<std::string, std::vector<std::string>> allowed;
  for (const auto& item : only) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      throw InputError(fmt::format("--only '{}': expected DIMENSION=VALUE[,VALUE...]", item));
    }
    auto& values = allowed[item.substr(0, eq)];
    std::string rest = item.substr(eq + 1);
    for (std::size_t start = 0; start <= rest.size();) {
      const auto comma = std::min(rest.find(',', start), rest.size());
      if (comma > start) values.push_back(rest.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return allowed;
}

// N of M on stderr: rewritten in place on a terminal, every tenth otherwise (CI logs).
diagnose::ProgressFn progress_printer() {
  const bool tty = isatty(fileno(stderr)) != 0;
  auto last_decile = std::make_shared<std::size_t>(0);
  return [tty, last_decile](std::size_t done, std::size_t total) {
    if (tty) {
      fmt::print(stderr, "\rdiagnose output: {} of {} combinations run", done, total);
      if (done == total) fmt::print(stderr, "\n");
      return;
    }
    const std::size_t decile = done * 10 / total;
    if (decile > *last_decile || done == total) {
      *last_decile = decile;
      fmt::print(stderr, "diagnose output: {} of {} combinations run\n", done, total);
    }
  };
}

int run_diagnose_output(const DiagnoseOutputOptions& o) {
  diagnose::LayerRequest r;
  r.checkpoint.assign(o.checkpoints.begin(), o.checkpoints.end());
  r.layer = o.layer;
  r.hidden = {o.hidden, o.hidden_tensor};
  r.observed = {o.observed, o.observed_tensor};
  if (o.topk_ids) r.topk_ids = diagnose::TensorArg{*o.topk_ids, o.topk_ids_tensor};
  if (o.topk_weights) r.topk_weights = diagnose::TensorArg{*o.topk_weights, o.topk_weights_tensor};
  if (o.config) r.config = *o.config;
  r.topk = o.topk;
  r.tp = o.tp;
  r.rank = o.rank;
  r.tokens = o.tokens;

  const auto combos = matrix::expand_combinations(parse_only(o.only));
  if (combos.empty()) throw InputError("--only selects no combination");
  // Scenarios only annotate the findings: an unset option without shipped data leaves them out.
  std::vector<matrix::Scenario> scenarios;
  if (const auto file = data::annotation_scenarios(o.scenarios); !file.empty()) scenarios = matrix::load_scenarios(file);

  const diagnose::ObservedLayer layer = diagnose::load_observed_layer(r);
  BackendOptions backend_options;
  backend_options.threads = o.threads;
  const auto backend = make_backend(o.backend, backend_options);
  const diagnose::CandidateSet set =
      diagnose::run_candidates(layer.setup, combos, scenarios, *backend, progress_printer());
  const diagnose::Diagnosis d = diagnose::rank_explanations(
      set, layer.observed, {.explained_nmse = o.explained_nmse, .min_margin = o.min_margin});
  if (o.json) {
    fmt::print("{}\n", diagnose::to_json(layer, set, d).dump(2));
  } else {
    fmt::print("{}", diagnose::render_text(layer, set, d, {.top = o.top}));
  }
  return d.exit_code();
}

void add_diagnose_output_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DiagnoseOutputOptions>();
  auto* diag = app.get_subcommand("diagnose");
  auto* cmd = diag->add_subcommand(
      "output",
      "When only a layer's wrong output is at hand: run every matrix combination (weight prep x shuffles x\n"
      "is_shuffled x gate mode x padding) of that layer on the host backend and rank them by how well they\n"
      "reproduce the observed output (NMSE to it). Combinations whose outputs are identical are one\n"
      "explanation listing every member; each says whether the derivation calls it consistent and which\n"
      "named historical scenario it realises. The best is named with its margin over the runner-up.");
  cmd->add_option("--checkpoint", o->checkpoints,
                  "A .safetensors file, a model.safetensors.index.json, or a folder holding either; repeat to\n"
                  "search several in order")
      ->required();
  cmd->add_option("--layer", o->layer, "Layer number L (model.layers.L.mlp.*)")->required()->check(CLI::NonNegativeNumber);
  cmd->add_option("--hidden", o->hidden, "Layer input [T, H], any float dtype: a .safetensors or .npy file")->required();
  cmd->add_option("--hidden-tensor", o->hidden_tensor,
                  "Tensor name in --hidden (default: the only tensor, else hidden_states, hidden or x)");
  cmd->add_option("--observed", o->observed,
                  "Observed layer output [T, H], any float dtype: a .safetensors or .npy file")
      ->required();
  cmd->add_option("--observed-tensor", o->observed_tensor,
                  "Tensor name in --observed (default: the only tensor, else y, output or out)");
  cmd->add_option("--topk-ids", o->topk_ids,
                  "The serving stack's routing: expert ids I32/I64 [T, k], .safetensors or .npy (with\n"
                  "--topk-weights; default: route"
                  " with the checkpoint router as the reference does)");
  cmd->add_option("--topk-ids-tensor", o->topk_ids_tensor, "Tensor name in --topk-ids (default: the only one, else topk_ids)");
  cmd->add_option("--topk-weights", o->topk_weights, "Routing weights, float [T, k] (with --topk-ids)");
  cmd->add_option("--topk-weights-tensor", o->topk_weights_tensor,
                  "Tensor name in --topk-weights (default: the only one, else topk_weights)");
  cmd->add_option("--config", o->config,
                  "Hugging Face config.json (default: config.json beside the first --checkpoint, if present)");
  cmd->add_option("--num-experts-per-tok", o->topk, "Override num_experts_per_tok k")->check(CLI::PositiveNumber);
  cmd->add_option("--tp", o->tp, "Tensor-parallel size of the serving stack")->capture_default_str()->check(parallel_size());
  cmd->add_option("--rank", o->rank,
                  "The observed output is this rank's partial sum before the all-reduce (default: the\n"
                  "all-reduced output, i.e. the sum over every rank)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tokens", o->tokens,
                  "Use only the first N tokens (every routed expert is prepared under every combination: a\n"
                  "long prefill routes to all of them, while 4-16 tokens decide as well)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--backend", o->backend, "Backend of the registry that runs the combinations")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Backend worker threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--only", o->only,
                  "Restrict a dimension, e.g. --only is_shuffled=false --only prep=deinterleaved,interleaved\n"
                  "(dimensions: prep, weight_shuffle, scale_shuffle, is_shuffled, gate_mode, padding)");
  cmd->add_option("--top", o->top, "Explanations listed (the JSON lists all)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--explained-nmse", o->explained_nmse,
                  "The best explanation explains the output only at or below this NMSE")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-margin", o->min_margin,
                  "Runner-up NMSE / best NMSE below this is reported AMBIGUOUS")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& value) {
            const double v = std::strtod(value.c_str(), nullptr);
            return v >= 1.0 ? std::string() : "--min-margin must be at least 1, found " + value;
          },
          "FACTOR>=1"));
  cmd->add_option("--scenarios", o->scenarios, "Named historical scenarios to match (empty: none;\n"
                  "default: cases/scenarios.json in the mxguard data directory)");
  cmd->add_flag("--json", o->json, "Print the report as JSON (schema mxguard.diagnose-output/1)");
  cmd->footer(
      "Inputs: the layer's hidden states and output as the serving process saw them (e.g. dumped with a\n"
      "forward hook), the checkpoint it loaded, and --tp/--rank as it ran. Only the routed experts are\n"
      "computed. The host backend reads padding as the loader leaves it (zeros), not as the matrix's NaN\n"
      "poison. Progress (N of M combinations) goes to stderr.\n"
      "Findings: HEALTHY (best explanation consistent), BUG (best inconsistent: a named scenario or an\n"
      "unnamed combination, with the derivation's reason), UNEXPLAINED (best NMSE above --explained-nmse);\n"
      "AMBIGUOUS is added when the runner-up is within --min-margin of the best.\n"
      "Examples:\n"
      "  # the whole output of layer 3 at tp 1, routed by the checkpoint's router\n"
      "  mxguard diagnose output --checkpoint gpt-oss-20b/ --layer 3 --hidden h.safetensors \\\n"
      "      --observed y.safetensors\n"
      "  # rank 2 of tp 4 (its partial sum before the all-reduce), with the server's own routing\n"
      "  mxguard diagnose output --checkpoint gpt-oss-120b/ --layer 0 --hidden h.safetensors \\\n"
      "      --observed y_rank2.safetensors --tp 4 --rank 2 --topk-ids routing.safetensors \\\n"
      "      --topk-weights routing.safetensors --json\n"
      "  # only the preshuffle-off kernels (fewer combinations, faster)\n"
      "  mxguard diagnose output --checkpoint layer.safetensors --layer 0 --hidden h.safetensors \\\n"
      "      --observed y.safetensors --only is_shuffled=false\n"
      "Exit codes: 0 HEALTHY (the best explanation is a consistent combination), 1 BUG or UNEXPLAINED\n"
      "(the best is an inconsistent combination, or nothing explains the output), 2 usage or input error\n"
      "(missing tensor, wrong shape or dtype, token counts that disagree), 3 infrastructure error.");
  cmd->callback([&action, o] { action = [o] { return run_diagnose_output(*o); }; });
}

const CommandRegistration reg{92, add_diagnose_output_command};

}  // namespace
}  // namespace mxg::cli
