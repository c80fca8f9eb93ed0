// Validation of a parsed case file against cases/schema/case.schema.json (embedded in the
// binary at build time), with one-line errors that name the file, the JSON pointer of the
// offending value, what the schema expects there and what the file has.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace mxg::matrix {

// The schema text compiled into the binary (the installed tool needs no source tree).
std::string_view case_schema_text();

// Throws InputError "FILE: /shapes/0/tp: expected one of 1, 2, 4, 8, found 3" for the most
// specific violation (the deepest pointer; the first such in document order).
void validate_case_json(const nlohmann::json& document, const std::filesystem::path& file);

// Shared by the semantic checks: InputError "FILE: POINTER: expected EXPECTED, found FOUND".
// An empty pointer (the document itself) prints as "(root)".
[[noreturn]] void throw_case_error(const std::filesystem::path& file, std::string_view pointer,
                                   std::string_view expected, std::string_view found);

// A JSON value as "found" text: compact JSON, cut to 80 characters.
std::string found_text(const nlohmann::json& value);

}  // namespace mxg::matrix
