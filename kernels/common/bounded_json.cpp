// Bounded JSON reading: a SAX handler that wraps nlohmann's DOM builder and stops the parse at the
// first nesting level past the limit or the first repeated key. nlohmann's callback parser is not
// used because it rescans the parent container at every nested end (quadratic in the number of
// members: a 400,000-tensor safetensors header took minutes).
#include "kernels/common/bounded_json.hpp"

#include <set>
#include <vector>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/regular_file.hpp"

namespace mxg::json_read {

namespace {

template <class J>
class BoundedSax {
 public:
  BoundedSax(J& result, const Limits& limits) : dom_(result, false), limits_(limits) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(typename J::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(typename J::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(typename J::number_float_t v, const typename J::string_t& s) { return dom_.number_float(v, s); }
  bool string(typename J::string_t& v) { return dom_.string(v); }
  bool binary(typename J::binary_t& v) { return dom_.binary(v); }

  bool start_object(std::size_t n) {
    if (!enter()) return false;
    keys_.emplace_back();
    is_object_.push_back(true);
    return dom_.start_object(n);
  }
  bool key(typename J::string_t& k) {
    if (!limits_.allow_duplicate_keys && !keys_.back().insert(k).second) {
      error_ = fmt::format("field '{}' is given twice", clip(k, 80));
      return false;
    }
    return dom_.key(k);
  }
  bool end_object() {
    keys_.pop_back();
    is_object_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (!enter()) return false;
    is_object_.push_back(false);
    return dom_.start_array(n);
  }
  bool end_array() {
    is_object_.pop_back();
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    error_ = fmt::format("not valid JSON: {}", clip(strip_tag(e.what()), 200));
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool enter() {
    if (static_cast<int>(is_object_.size()) >= limits_.max_depth) {
      error_ = fmt::format("JSON nested deeper than {} levels", limits_.max_depth);
      return false;
    }
    return true;
  }
  // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
  static std::string_view strip_tag(std::string_view what) {
    if (!what.empty() && what.front() == '[') {
      const auto end = what.find("] ");
      if (end != std::string_view::npos) what.remove_prefix(end + 2);
    }
    return what;
  }

  nlohmann::detail::json_sax_dom_parser<J> dom_;
  const Limits& limits_;
  std::vector<std::set<std::string, std::less<>>> keys_;
  std::vector<bool> is_object_;
  std::string error_;
};

template <class J>
J parse_as(std::string_view text, std::string_view source, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    throw InputError(fmt::format("{}: JSON text of {} bytes exceeds the {}-byte limit", source, text.size(),
                                 limits.max_bytes));
  }
  J result;
  BoundedSax<J> sax(result, limits);
  const bool ok = J::sax_parse(text.begin(), text.end(), &sax);
  if (!ok || !sax.error().empty()) {
    throw InputError(fmt::format("{}: {}", source, sax.error().empty() ? "not valid JSON" : sax.error()));
  }
  return result;
}

// Appends a flat excerpt of `v` to `out` until `budget` characters are used; containers deeper than
// kShowDepth print as [...] / {...}, so the recursion is bounded whatever the value.
constexpr int kShowDepth = 3;

template <class J>
void show_into(const J& v, std::string& out, std::size_t budget, int depth) {
  if (out.size() >= budget) return;
  if (!v.is_structured()) {
    out += v.dump(-1, ' ', false, J::error_handler_t::replace).substr(0, budget - out.size() + 1);
    return;
  }
  const bool obj = v.is_object();
  if (depth >= kShowDepth) {
    out += obj ? "{...}" : "[...]";
    return;
  }
  out += obj ? '{' : '[';
  bool first = true;
  for (auto it = v.begin(); it != v.end() && out.size() < budget; ++it) {
    if (!first) out += ',';
    first = false;
    if (obj) out += J(it.key()).dump(-1, ' ', false, J::error_handler_t::replace) + ":";
    show_into(*it, out, budget, depth + 1);
  }
  out += obj ? '}' : ']';
}

template <class J>
std::string show_as(const J& value, std::size_t max_chars) {
  std::string out;
  show_into(value, out, max_chars, 0);
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

}  // namespace

nlohmann::json parse(std::string_view text, std::string_view source, const Limits& limits) {
  return parse_as<nlohmann::json>(text, source, limits);
}
nlohmann::ordered_json parse_ordered(std::string_view text, std::string_view source, const Limits& limits) {
  return parse_as<nlohmann::ordered_json>(text, source, limits);
}

nlohmann::json parse_file(const std::string& path, const Limits& limits) {
  return parse(read_regular_file(path, path, limits.max_bytes), path, limits);
}
nlohmann::ordered_json parse_file_ordered(const std::string& path, const Limits& limits) {
  return parse_ordered(read_regular_file(path, path, limits.max_bytes), path, limits);
}

std::string show(const nlohmann::json& value, std::size_t max_chars) { return show_as(value, max_chars); }
std::string show(const nlohmann::ordered_json& value, std::size_t max_chars) { return show_as(value, max_chars); }

std::string clip(std::string_view text, std::size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  return std::string(text.substr(0, max_chars)) + "...";
}

}  // namespace mxg::json_read
