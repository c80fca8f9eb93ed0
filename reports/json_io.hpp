// JSON form of the result record (reports/REPORT_SCHEMA.md) and the report.json writer/reader.
#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "reports/result.hpp"

namespace mxg::report {

// Insertion-ordered so files read in declaration order (id first, schema first) for humans and diffs.
using Json = nlohmann::ordered_json;

inline constexpr std::string_view kReportSchema = "mxguard-report/1";  // report.json
inline constexpr std::string_view kResultSchema = "mxguard-result/1";  // each results.jsonl line

// Doubles: finite values are JSON numbers (shortest form that parses back to the same bits);
// NaN, +inf and -inf are the strings "NaN", "Infinity", "-Infinity" because JSON has no such numbers.
Json double_to_json(double x);
double double_from_json(const Json& j, std::string_view field);  // throws mxg::InputError naming field

// ADL hooks (j.get<T>() / Json(x)). from_json throws mxg::InputError naming the missing or
// mistyped field; unknown keys are ignored so that additive schema changes stay readable.
void to_json(Json& j, const Verdict& v);
void from_json(const Json& j, Verdict& v);
void to_json(Json& j, const Metrics& m);
void from_json(const Json& j, Metrics& m);
void to_json(Json& j, const Tolerance& t);
void from_json(const Json& j, Tolerance& t);
void to_json(Json& j, const Hotspot& h);
void from_json(const Json& j, Hotspot& h);
void to_json(Json& j, const CombinationResult& r);
void from_json(const Json& j, CombinationResult& r);
void to_json(Json& j, const MutantResult& m);
void from_json(const Json& j, MutantResult& m);
void to_json(Json& j, const Totals& t);
void from_json(const Json& j, Totals& t);
void to_json(Json& j, const RunSummary& run);
void from_json(const Json& j, RunSummary& run);

// The report.json document: {"schema": kReportSchema, ...run fields, "totals": compute_totals(run)}.
Json report_document(const RunSummary& run);
// Inverse of report_document; checks the schema tag. Totals are derived, so they are not read back.
RunSummary run_from_report_document(const Json& doc);

// Serialise safely: invalid UTF-8 in strings (e.g. captured stderr) becomes U+FFFD instead of throwing.
std::string dump_json(const Json& j, int indent = -1);

// Writes report.json atomically (temporary file, fsync, rename): a crash never leaves half a report.
// Cannot create the file -> mxg::InputError naming it; a failed write or fsync -> mxg::InfraError.
void write_report_json(const std::filesystem::path& path, const RunSummary& run);
// Reads a report.json; unreadable, malformed or wrong-schema input -> mxg::InputError naming the file.
RunSummary read_report_json(const std::filesystem::path& path);

}  // namespace mxg::report
