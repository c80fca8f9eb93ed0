// The page template filled with data: markers replaced, data that could end the script element
// neutralised, the embedded JSON parses back to the data, and nothing is fetched from the network.
#include "reports/html/page.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mxg::report::html {
namespace {

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST(Page, EmbedsTheDataSoThatItParsesBackAndCannotCloseTheScript) {
  Json data = Json::object();
  data["title"] = "night <of> \"12\" & more";
  data["evil"] = "</script><script>window.pwned = 1</script>";
  data["marker"] = "{{MXG_DATA}} {{MXG_TITLE}}";
  const std::string page = render_page(data);
  EXPECT_EQ(page.find("{{MXG_DATA}}"), page.rfind("{{MXG_DATA}}")) << "the marker text in the data stays as data";
  EXPECT_NE(page.find("<title>night &lt;of&gt; &quot;12&quot; &amp; more</title>"), std::string::npos);
  EXPECT_EQ(page.find("<script>window.pwned"), std::string::npos);
  const std::string open = R"(<script type="application/json" id="mxg-data">)";
  const std::size_t from = page.find(open);
  ASSERT_NE(from, std::string::npos);
  const std::size_t start = from + open.size(), end = page.find("</script>", start);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(Json::parse(page.substr(start, end - start)), data);
}

TEST(Page, IsSelfContained) {
  const std::string page = render_page(Json::object());
  // Nothing loaded from elsewhere: no external scripts, styles, images or fonts.
  EXPECT_EQ(count(page, "src="), 0u);
  EXPECT_EQ(count(page, "<link"), 0u);
  EXPECT_EQ(count(page, "@import"), 0u);
  EXPECT_EQ(count(page, "url("), 0u);
  EXPECT_EQ(count(page, "fetch("), 0u);
  EXPECT_EQ(count(page, "XMLHttpRequest"), 0u);
  EXPECT_NE(page.find("<title>mxguard report</title>"), std::string::npos);
}

}  // namespace
}  // namespace mxg::report::html
