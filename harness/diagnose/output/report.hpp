// What `diagnose output` prints: the ranked explanations as text (stdout), or as JSON (schema
// mxguard.diagnose-output/1), and the closing finding.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/diagnose/output/candidate_runs.hpp"
#include "harness/diagnose/output/explanations.hpp"
#include "harness/diagnose/output/observed_layer.hpp"

namespace mxg::diagnose {

inline constexpr const char* kReportSchema = "mxguard.diagnose-output/1";

struct ReportOptions {
  std::size_t top = 5;      // explanations listed in the text (the JSON has every one)
  std::size_t members = 4;  // member combinations listed per explanation in the text
};

std::string render_text(const ObservedLayer& layer, const CandidateSet& set, const Diagnosis& d,
                        const ReportOptions& options);

// Every explanation with every member. Infinite or undefined numbers (an NMSE against an
// all-zero observed output, the margin of an exact match) are null.
nlohmann::ordered_json to_json(const ObservedLayer& layer, const CandidateSet& set, const Diagnosis& d);

// One line: "BUG: gptoss-rocm-gsm8k-0.21 (NMSE 3.10e-06; 2 combinations)".
std::string finding_line(const Diagnosis& d);

}  // namespace mxg::diagnose
