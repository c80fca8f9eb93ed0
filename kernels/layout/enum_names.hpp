// One name table per enum: a specialisation of EnumNames<E> lists every value with its spelling,
// and to_string / parse / allowed_values / allowed_list are all derived from that one table, so a
// new value cannot be spelled in one place and forgotten in another.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mxg::layout {

// Specialise with `static constexpr std::pair<E, std::string_view> table[] = {...};`.
template <class E>
struct EnumNames;

template <class E>
constexpr std::string_view to_string(E value) {
  for (const auto& [v, name] : EnumNames<E>::table) {
    if (v == value) return name;
  }
  return "?";
}

template <class E>
constexpr std::optional<E> parse(std::string_view name) {
  for (const auto& [v, n] : EnumNames<E>::table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

template <class E>
std::vector<std::string> allowed_values() {
  std::vector<std::string> out;
  for (const auto& entry : EnumNames<E>::table) out.emplace_back(entry.second);
  return out;
}

// "a | b | c", for help texts and error messages.
template <class E>
std::string allowed_list() {
  std::string out;
  for (const auto& entry : EnumNames<E>::table) {
    if (!out.empty()) out += " | ";
    out += entry.second;
  }
  return out;
}

}  // namespace mxg::layout
