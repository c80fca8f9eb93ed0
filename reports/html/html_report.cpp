// report.html of a single run (html_report.hpp).
#include "reports/html/html_report.hpp"

#include "reports/html/page.hpp"
#include "reports/html/report_builder.hpp"
#include "reports/probe_report.hpp"

namespace mxg::report::html {

void write_matrix_html(const std::filesystem::path& path, const RunSummary& run) {
  ReportBuilder builder;
  builder.add_matrix_run(run, (path.parent_path() / "report.json").string());
  write_page(path, builder.page_data());
}

void write_probe_html(const std::filesystem::path& path, const ProbeSummary& summary,
                      const std::vector<ProbeQuestionRecord>& questions) {
  ReportBuilder builder;
  builder.add_probe(Json::parse(to_json(summary).dump()), questions, (path.parent_path() / "probe.json").string());
  write_page(path, builder.page_data());
}

}  // namespace mxg::report::html
