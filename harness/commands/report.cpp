// `mxguard report`: one self-contained HTML page from matrix and probe outputs (several shards or runs
// merge), with the nightly trend when a history file is given. A printer: exit 0 once the page is
// written, whatever the runs found; 2 for unreadable, malformed or conflicting inputs.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "harness/command.hpp"
#include "kernels/common/errors.hpp"
#include "reports/html/page.hpp"
#include "reports/html/report_builder.hpp"
#include "reports/markdown.hpp"

namespace mxg::cli {
namespace {

struct ReportCommandOptions {
  std::vector<std::string> inputs;
  std::string history;
  std::string out = "report.html";
  std::string title;
  std::vector<std::string> meta;
  std::size_t cell_budget = report::html::DigestOptions{}.cell_budget;
};

int run_report(const ReportCommandOptions& o) {
  report::html::ReportOptions options;
  options.title = o.title;
  options.digest.cell_budget = o.cell_budget;
  for (const std::string& kv : o.meta) {
    const std::size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InputError(fmt::format("--meta '{}': expected KEY=VALUE, e.g. --meta image=rocm/sglang:v0.5", kv));
    }
    options.meta.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (o.cell_budget < 1) throw InputError("--cell-budget 0: must be at least 1");
  report::html::ReportBuilder builder(options);
  for (const std::string& in : o.inputs) builder.add_path(in);
  if (!o.history.empty()) builder.set_history(o.history);
  const report::Json data = builder.page_data();
  report::html::write_page(o.out, data);

  std::size_t probes = data["probes"].size();
  const std::int64_t results = builder.matrix().results();
  const auto bytes = std::filesystem::file_size(o.out);
  fmt::print("mxguard report: wrote {} ({:.0f} KiB): {} matrix result{}, {} probe run{}{}\n", o.out,
             static_cast<double>(bytes) / 1024.0, results, results == 1 ? "" : "s", probes, probes == 1 ? "" : "s",
             o.history.empty() ? "" : fmt::format(", history {}", o.history));
  report::append_step_summary(fmt::format("HTML report: `{}`\n", o.out), std::getenv("GITHUB_STEP_SUMMARY"));
  return exit_code::kPass;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ReportCommandOptions>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page (inline CSS, JavaScript and SVG; nothing fetched when it is\n"
      "opened) from matrix and probe outputs: the verdict heatmap (rows case x shape x tokens, columns the\n"
      "layout combination), failures grouped by the dimension values they share, the NMSE distribution with\n"
      "the tolerance and the margin, named scenarios and mutants, the GSM8K probe and versions. With\n"
      "--history, the trend across nights and what is new or fixed since the last one.\n"
      "Inputs merge: results are keyed by id; an id twice with the same outcome counts once, an id twice\n"
      "with different outcomes is refused (give runs of different devices separate reports).\n"
      "Exit: 0 page written (whatever the runs found), 2 bad input or an --out that cannot be created,\n"
      "3 writing the page failed.");
  cmd->add_option("inputs", o->inputs,
                  "Run folders (report.json or, for a run that never finished, results.jsonl; probe.json and\n"
                  "probe.jsonl), folders holding such folders at any depth (downloaded CI artifacts), or those files")
      ->required();
  cmd->add_option("--history", o->history,
                  "nightly.jsonl kept by the nightly workflow (ci/workflows/mxg_ci.py history)");
  cmd->add_option("--out", o->out, "The page to write")->capture_default_str();
  cmd->add_option("--title", o->title, "Page title (default: mxguard report)");
  cmd->add_option("--meta", o->meta,
                  "KEY=VALUE shown under Versions, repeatable (the image, commit, runner: what the run did not record)");
  cmd->add_option("--cell-budget", o->cell_budget,
                  "Heatmap cells drawn at most; beyond it the innermost layout dimensions (then the token counts)\n"
                  "are merged into cells, each showing its worst verdict")
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  mxguard report mxguard-out --out report.html\n"
      "  mxguard report artifacts/ --history nightly.jsonl --meta image=$IMAGE --meta sha=$GITHUB_SHA\n"
      "  mxguard report shard-0/ shard-1/ shard-2/ probe-out/ --title 'MI355X nightly'\n"
      "mxguard matrix and mxguard probe write report.html beside their other outputs on their own.");
  cmd->callback([&action, o] { action = [o] { return run_report(*o); }; });
}

}  // namespace mxg::cli
