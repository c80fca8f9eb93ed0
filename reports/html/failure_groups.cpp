// Sequential covering with FOIL gain over attribute codes (the method: failure_groups.hpp).
#include "reports/html/failure_groups.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

namespace mxg::report::html {

AttributeTable::AttributeTable(std::vector<std::string> attribute_names)
    : names_(std::move(attribute_names)), values_(names_.size()), index_(names_.size()) {}

std::uint32_t AttributeTable::intern(std::size_t attribute, const std::string& value) {
  auto& values = values_.at(attribute);
  const auto [it, inserted] = index_[attribute].try_emplace(value, static_cast<std::uint32_t>(values.size()));
  if (inserted) values.push_back(value);
  return it->second;
}

std::size_t AttributeTable::add_row(const std::vector<std::string>& values) {
  if (values.size() != attributes()) throw std::invalid_argument("AttributeTable::add_row: wrong number of values");
  std::vector<std::uint32_t> codes;
  codes.reserve(values.size());
  for (std::size_t a = 0; a < values.size(); ++a) codes.push_back(intern(a, values[a]));
  return add_coded_row(codes);
}

std::size_t AttributeTable::add_coded_row(const std::vector<std::uint32_t>& codes) {
  if (codes.size() != attributes()) throw std::invalid_argument("AttributeTable::add_coded_row: wrong width");
  codes_.insert(codes_.end(), codes.begin(), codes.end());
  return rows() - 1;
}

namespace {

// FOIL's gain of narrowing a rule from (p0 positives, n0 negatives) to (p1, n1): p1 times the gain in
// bits of precision. Zero when nothing is shed; never positive for p1 = 0.
double foil_gain(double p0, double n0, double p1, double n1) {
  if (p1 <= 0) return 0;
  return p1 * (std::log2(p1 / (p1 + n1)) - std::log2(p0 / (p0 + n0)));
}

enum class Role : std::uint8_t { Ignored, Positive, Negative };

}  // namespace

Grouping group_failures(const AttributeTable& table, const std::vector<std::size_t>& universe,
                        const std::vector<bool>& failing, const GroupingOptions& options) {
  const std::size_t width = table.attributes();
  // Attributes with a single value in the universe can neither separate nor describe anything.
  std::vector<bool> varies(width, false);
  for (std::size_t a = 0; a < width; ++a) {
    for (std::size_t row : universe) {
      if (table.code(row, a) != table.code(universe.front(), a)) {
        varies[a] = true;
        break;
      }
    }
  }

  // Positive: a failure not yet in a group; negative: not a failure; ignored: a failure already grouped.
  std::vector<Role> role(table.rows(), Role::Ignored);
  std::int64_t remaining = 0;
  for (std::size_t row : universe) {
    role[row] = failing.at(row) ? Role::Positive : Role::Negative;
    if (failing[row]) ++remaining;
  }

  Grouping out;
  std::vector<std::vector<std::int64_t>> pos(width), neg(width);
  while (remaining > 0) {
    if (out.groups.size() == options.max_groups) {
      for (std::size_t row : universe) {
        if (role[row] == Role::Positive) out.remainder.push_back(row);
      }
      break;
    }
    FailureGroup group;
    std::vector<std::size_t> covered = universe;  // rows matching the rule so far
    std::int64_t p = remaining, n = 0;
    for (std::size_t row : covered) n += role[row] == Role::Negative;

    while (n > 0 && group.rule.size() < options.max_conditions) {
      for (std::size_t a = 0; a < width; ++a) {
        pos[a].assign(table.value_count(a), 0);
        neg[a].assign(table.value_count(a), 0);
      }
      for (std::size_t row : covered) {
        if (role[row] == Role::Ignored) continue;
        auto& counts = role[row] == Role::Positive ? pos : neg;
        for (std::size_t a = 0; a < width; ++a) ++counts[a][table.code(row, a)];
      }
      std::optional<Condition> best;
      double best_gain = 0;
      std::int64_t best_p = 0;
      for (std::size_t a = 0; a < width; ++a) {
        if (!varies[a]) continue;
        if (std::any_of(group.rule.begin(), group.rule.end(), [&](const Condition& c) { return c.attribute == a; }))
          continue;
        for (std::uint32_t v = 0; v < table.value_count(a); ++v) {
          const double gain = foil_gain(static_cast<double>(p), static_cast<double>(n),
                                        static_cast<double>(pos[a][v]), static_cast<double>(neg[a][v]));
          // Strictly better gain, or equal gain keeping more failures; earlier (a, v) wins remaining ties.
          const bool better = gain > best_gain + 1e-12 ||
                              (best && std::abs(gain - best_gain) <= 1e-12 && pos[a][v] > best_p);
          if (gain > 1e-12 && better) {
            best = Condition{a, v};
            best_gain = gain;
            best_p = pos[a][v];
          }
        }
      }
      if (!best) break;
      group.rule.push_back(*best);
      std::erase_if(covered, [&](std::size_t row) { return table.code(row, best->attribute) != best->value; });
      p = best_p;
      n = neg[best->attribute][best->value];
    }

    for (std::size_t row : covered) {
      if (failing[row]) ++group.failures_matching;
      if (role[row] == Role::Positive) group.members.push_back(row);
    }
    group.matching = static_cast<std::int64_t>(covered.size());
    for (std::size_t a = 0; a < width; ++a) {
      if (!varies[a]) continue;
      if (std::any_of(group.rule.begin(), group.rule.end(), [&](const Condition& c) { return c.attribute == a; }))
        continue;
      const std::uint32_t first = table.code(group.members.front(), a);
      const bool all_same = std::all_of(group.members.begin(), group.members.end(),
                                        [&](std::size_t row) { return table.code(row, a) == first; });
      if (all_same) group.shared.push_back(Condition{a, first});
    }
    for (std::size_t row : group.members) role[row] = Role::Ignored;
    remaining -= static_cast<std::int64_t>(group.members.size());
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace mxg::report::html
