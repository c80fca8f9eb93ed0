// Printers of a probe run: probe.jsonl lines (and their reader, for --resume and --baseline),
// probe.json, JUnit XML, Markdown and SGLang's console lines.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/probe_result.hpp"

namespace mxg::report {

nlohmann::json to_json(const ProbeQuestionRecord& q);
std::string format_probe_line(const ProbeQuestionRecord& q);  // one JSON object + '\n'
// Inverse of format_probe_line for one line; malformed -> mxg::InputError naming the field.
ProbeQuestionRecord parse_probe_line(std::string_view line);

struct LoadedProbeLog {
  std::vector<ProbeQuestionRecord> records;  // file order
  std::vector<std::string> warnings;         // a torn last line that was ignored
};
// Reads probe.jsonl. A torn last line (no '\n', does not parse) is ignored with a warning; any other
// bad line -> mxg::InputError "<file>:<line>: ...".
LoadedProbeLog load_probe_jsonl(const std::filesystem::path& path);

nlohmann::json to_json(const ProbeSummary& s);
std::string render_probe_junit(const ProbeSummary& s, const std::vector<ProbeQuestionRecord>& questions);
std::string render_probe_markdown(const ProbeSummary& s, const std::vector<ProbeQuestionRecord>& questions);
// SGLang's four lines, byte for byte: "Accuracy: %.3f", "Invalid: %.3f", "Latency: %.3f s",
// "Output throughput: %.3f token/s".
std::string render_sglang_lines(const ProbeSummary& s);
// "19/20 agree (18 identical, 1 within top-5), 1 diverged; required 100 %": the agreement in one line.
std::string agreement_line(const ProbeAgreement& a);

}  // namespace mxg::report
