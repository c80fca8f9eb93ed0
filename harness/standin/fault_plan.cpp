// Fault draws: one independent uniform per fault kind, compared with that kind's rate.
#include "harness/standin/fault_plan.hpp"

#include <array>
#include <utility>

#include "harness/standin/draws.hpp"

namespace mxg::standin {

std::string_view fault_name(Fault f) {
  switch (f) {
    case Fault::None: return "none";
    case Fault::Drop: return "drop";
    case Fault::Hang: return "hang";
    case Fault::Error: return "error";
    case Fault::Malformed: return "malformed";
    case Fault::Abort: return "abort";
    case Fault::Truncate: return "truncate";
  }
  return "none";
}

Fault draw_fault(const StandinOptions& o, std::string_view question, std::int64_t request_index) {
  const std::array<std::pair<Fault, double>, 6> rates = {{
      {Fault::Drop, o.drop_rate},
      {Fault::Hang, o.hang_rate},
      {Fault::Error, o.error_rate},
      {Fault::Malformed, o.malformed_rate},
      {Fault::Abort, o.abort_rate},
      {Fault::Truncate, o.truncate_rate},
  }};
  const std::uint64_t key = text_key(o.seed, question);
  for (const auto& [fault, rate] : rates) {
    // The salt carries the kind, the index the request count: independent draws per (kind, retry).
    const auto salt = static_cast<Salt>(static_cast<std::uint64_t>(Salt::FaultBase) + static_cast<std::uint64_t>(fault));
    if (rate > 0 && draw_unit(key, salt, static_cast<std::uint64_t>(request_index)) < rate) return fault;
  }
  return Fault::None;
}

std::uint64_t fault_variant(std::uint64_t seed, std::string_view question, std::int64_t request_index) {
  return draw_bits(text_key(seed, question), Salt::Variant, static_cast<std::uint64_t>(request_index));
}

}  // namespace mxg::standin
