// Permutation-order release of finished questions (why: ordered_feed.hpp).
#include "harness/probe/ordered_feed.hpp"

#include <stdexcept>
#include <string>

namespace mxg::probe {

OrderedFeed::OrderedFeed(std::int64_t positions) : state_(static_cast<std::size_t>(positions), -1) {}

void OrderedFeed::record(std::int64_t order, std::optional<bool> correct) {
  if (order < 0 || order >= static_cast<std::int64_t>(state_.size())) {
    throw std::logic_error("OrderedFeed: position " + std::to_string(order) + " out of range");
  }
  auto& s = state_[static_cast<std::size_t>(order)];
  if (s != -1) throw std::logic_error("OrderedFeed: position " + std::to_string(order) + " recorded twice");
  s = correct ? static_cast<std::int8_t>(*correct ? 1 : 0) : static_cast<std::int8_t>(2);
}

std::vector<bool> OrderedFeed::release() {
  std::vector<bool> out;
  for (const Released& r : release_ordered()) out.push_back(r.correct);
  return out;
}

std::vector<OrderedFeed::Released> OrderedFeed::release_ordered() {
  std::vector<Released> out;
  while (next_ < static_cast<std::int64_t>(state_.size())) {
    const auto s = state_[static_cast<std::size_t>(next_)];
    if (s == -1) break;
    if (s != 2) out.push_back({next_, s == 1});
    ++next_;
  }
  return out;
}

}  // namespace mxg::probe
