// A matrix run's output files (run_outputs.hpp).
#include "harness/matrix/run_outputs.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "reports/console.hpp"
#include "reports/file_io.hpp"
#include "reports/html/html_report.hpp"
#include "reports/json_io.hpp"
#include "reports/junit.hpp"
#include "reports/markdown.hpp"

namespace mxg::matrix {

void write_run_outputs(const std::filesystem::path& out_dir, const report::RunSummary& summary) {
  report::write_report_json(out_dir / "report.json", summary);
  report::Json header = report::report_document(summary);
  header.erase("results");
  header.erase("mutants");
  report::write_file_atomically(out_dir / "run.json", report::dump_json(header, 2) + "\n");
  report::write_junit(out_dir / "junit.xml", summary);
  report::html::write_matrix_html(out_dir / "report.html", summary);
  report::write_markdown(out_dir / "summary.md", summary, std::getenv("GITHUB_STEP_SUMMARY"),
                         {.html_report = (out_dir / "report.html").string()});
  report::print_console_summary(stdout, summary);
}

std::optional<report::RunSummary> read_run_header(const std::filesystem::path& run_json) {
  if (!std::filesystem::exists(run_json)) return std::nullopt;
  report::Json doc;
  try {
    doc = report::Json::parse(report::read_file(run_json));
  } catch (const report::Json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", run_json.string(), e.what()));
  }
  if (!doc.is_object()) throw InputError(fmt::format("{}: expected a JSON object", run_json.string()));
  // The header is report.json less its two arrays: give them back empty so the one reader applies.
  doc["results"] = report::Json::array();
  doc["mutants"] = report::Json::array();
  try {
    return report::run_from_report_document(doc);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", run_json.string(), e.what()));
  }
}

}  // namespace mxg::matrix
