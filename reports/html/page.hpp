// The self-contained HTML page: the template (page_template.html, embedded at build time: inline CSS,
// JavaScript and SVG, nothing fetched at view time) with the report's data embedded as JSON.
#pragma once

#include <filesystem>
#include <string>

#include "reports/json_io.hpp"

namespace mxg::report::html {

// The page for `data` (ReportBuilder::page_data()). The JSON goes into a <script type="application/json">
// element with every '<' written as \u003c, so no string in the data can close the element early.
std::string render_page(const Json& data);

// render_page, written atomically. Cannot create -> mxg::InputError; write fails -> mxg::InfraError.
void write_page(const std::filesystem::path& path, const Json& data);

}  // namespace mxg::report::html
