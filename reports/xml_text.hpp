// Text that is safe inside JUnit XML, and the small pugixml helpers every JUnit writer uses.
#pragma once

#include <string>
#include <string_view>

#include <pugixml.hpp>

namespace mxg::report {

// XML 1.0 cannot carry most control characters, and a CI parser rejects a file with invalid UTF-8.
// Messages can hold captured stderr or model output (ANSI colour codes, stray bytes), so: control
// characters become a visible "\x1B", undecodable bytes become U+FFFD.
std::string xml_safe(std::string_view in);

// An attribute / a text child element, both passed through xml_safe.
void set_attr(pugi::xml_node node, const char* name, std::string_view value);
void add_text_child(pugi::xml_node parent, const char* name, std::string_view text);

}  // namespace mxg::report
