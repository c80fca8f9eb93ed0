// Which injected fault one generation request gets. Each kind is drawn from its own hash of (seed,
// question, the question's request index, kind): deterministic for a run, and a retry of the same
// question (next index) draws afresh, as a flaky server would behave.
#pragma once

#include <cstdint>
#include <string_view>

#include "harness/standin/standin_server.hpp"

namespace mxg::standin {

// In precedence order: when several kinds fire for one request the earliest listed wins (so each
// kind's observed rate is its own rate times the chance that no earlier kind fired).
enum class Fault { None, Drop, Hang, Error, Malformed, Abort, Truncate };

std::string_view fault_name(Fault f);  // the StandinStats::faults key: "drop", "hang", ...

// The fault of the `request_index`-th (0-based) generation request for `question`.
Fault draw_fault(const StandinOptions& o, std::string_view question, std::int64_t request_index);

// Extra bits for how the fault shows (which malformed body, where the drop cuts the body).
std::uint64_t fault_variant(std::uint64_t seed, std::string_view question, std::int64_t request_index);

}  // namespace mxg::standin
