// Failures grouped by the dimension values they share: "all 24 FAILs have is_shuffled=1 and
// gate_mode=interleave at tp 8, and every combination with those values fails".
//
// The search is sequential covering with FOIL's information gain (Quinlan 1990): a rule is grown one
// condition (attribute = value) at a time, each time taking the condition that best trades keeping
// the failures against shedding the non-failures of the same universe, until the rule matches only
// failures (or no condition helps). Its failures form a group; the search repeats on the failures
// left. A rule is therefore not a guess from names: it is the shortest description, found greedily,
// that separates those failures from the healthy results beside them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mxg::report::html {

// Results as rows of attribute codes (one code per attribute; code i names values[attribute][i]).
class AttributeTable {
 public:
  explicit AttributeTable(std::vector<std::string> attribute_names);

  std::size_t attributes() const { return names_.size(); }
  std::size_t rows() const { return attributes() ? codes_.size() / attributes() : 0; }
  const std::string& name(std::size_t attribute) const { return names_[attribute]; }
  const std::string& value(std::size_t attribute, std::uint32_t code) const { return values_[attribute][code]; }
  std::size_t value_count(std::size_t attribute) const { return values_[attribute].size(); }
  std::uint32_t code(std::size_t row, std::size_t attribute) const { return codes_[row * attributes() + attribute]; }

  // Appends a row; `values` holds one string per attribute, in attribute order. Returns its index.
  std::size_t add_row(const std::vector<std::string>& values);
  // The code of `value` in `attribute`, interning it on first sight.
  std::uint32_t intern(std::size_t attribute, const std::string& value);
  // Appends a row of codes already interned (faster for callers that cache codes).
  std::size_t add_coded_row(const std::vector<std::uint32_t>& codes);

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> values_;
  std::vector<std::unordered_map<std::string, std::uint32_t>> index_;  // value -> code, per attribute
  std::vector<std::uint32_t> codes_;  // row-major
};

struct Condition {
  std::size_t attribute = 0;
  std::uint32_t value = 0;
  bool operator==(const Condition&) const = default;
};

struct FailureGroup {
  std::vector<Condition> rule;    // the conjunction the search found, in the order it was grown
  std::vector<Condition> shared;  // other values every member shares (attributes constant over the
                                  // whole universe are left out: they distinguish nothing)
  std::vector<std::size_t> members;  // rows of this group (failures not claimed by an earlier group)
  std::int64_t matching = 0;             // universe rows matching the rule
  std::int64_t failures_matching = 0;    // failures among them (members plus earlier groups' failures)
};

struct GroupingOptions {
  std::size_t max_groups = 8;       // failures left after this many groups are reported as a remainder
  std::size_t max_conditions = 6;   // a rule stops growing at this length
};

struct Grouping {
  std::vector<FailureGroup> groups;
  std::vector<std::size_t> remainder;  // failures in no group (more than max_groups would be needed)
};

// `universe`: the rows the statement is about (e.g. every result the layout rules call consistent);
// `failing[row]`: whether that row is a failure. Rows outside the universe are ignored. Ties between
// conditions go to the larger number of failures kept, then the earlier attribute, then the smaller code,
// so the result is deterministic and the attribute order states which description is preferred.
Grouping group_failures(const AttributeTable& table, const std::vector<std::size_t>& universe,
                        const std::vector<bool>& failing, const GroupingOptions& options = {});

}  // namespace mxg::report::html
