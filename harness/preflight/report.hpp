// Printers of a preflight result: a readable step-by-step report and the same content as JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "harness/preflight/checks.hpp"
#include "harness/preflight/sglang_plan.hpp"

namespace mxg::preflight {

// Steps (load -> tp-slice -> pad -> de-interleave -> shuffle -> is_shuffled -> gate mode), the
// per-rank table, then one "BAD [rule]: ..." line per failure, "warning: ..." lines and "OK" when
// nothing is bad.
std::string render_text(const Plan& plan, const Verdict& verdict);

// {"schema": "mxguard.preflight/1", "model": {...}, "request": {...}, "steps": [...],
//  "dispatch": {...}, "ranks": [...], "findings": [...], "scenarios": [...], "verdict": "BAD"|"OK"}
nlohmann::json to_json(const Plan& plan, const Verdict& verdict);

}  // namespace mxg::preflight
