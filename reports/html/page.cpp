// Filling the page template (page.hpp).
#include "reports/html/page.hpp"

#include <string_view>

#include "reports/file_io.hpp"
#include "reports/html/page_template_text.hpp"

namespace mxg::report::html {

namespace {

constexpr std::string_view kDataMarker = "{{MXG_DATA}}";
constexpr std::string_view kTitleMarker = "{{MXG_TITLE}}";

std::string escape_html_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// '<' only occurs inside JSON strings, where \u003c means the same character to JSON.parse.
std::string script_safe_json(const Json& data) {
  const std::string text = dump_json(data);
  std::string out;
  out.reserve(text.size() + text.size() / 64);
  for (char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_page(const Json& data) {
  const std::string_view tpl = generated::kPageTemplate;
  std::string title = "mxguard report";
  if (data.contains("title") && data["title"].is_string() && !data["title"].get<std::string>().empty())
    title = data["title"].get<std::string>();
  // Cut the template at its two markers first, so that nothing inserted is ever searched for a marker.
  const std::size_t t = tpl.find(kTitleMarker), d = tpl.find(kDataMarker);
  std::string page;
  page.append(tpl.substr(0, t));
  page += escape_html_text(title);
  page.append(tpl.substr(t + kTitleMarker.size(), d - t - kTitleMarker.size()));
  page += script_safe_json(data);
  page.append(tpl.substr(d + kDataMarker.size()));
  return page;
}

void write_page(const std::filesystem::path& path, const Json& data) { write_file_atomically(path, render_page(data)); }

}  // namespace mxg::report::html
