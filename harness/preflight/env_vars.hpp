// `--env KEY=VALUE` assignments as preflight reads them: syntax checks and SGLang-style booleans.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxg::preflight {

using EnvAssignments = std::map<std::string, std::string>;

// Parses "KEY=VALUE" items. KEY must be a shell variable name; a key given twice with different
// values is an error (which one SGLang would see is the user's mistake, not ours to guess).
// Throws InputError naming the offending item.
EnvAssignments parse_env_assignments(const std::vector<std::string>& items);

// A boolean environment value as SGLang's EnvBool reads it: true/1/yes/on or false/0/no/off, any
// case. Anything else is an InputError naming the key and value (SGLang's readers disagree about
// other spellings, so preflight refuses to guess).
bool parse_env_bool(std::string_view key, std::string_view value);

// The value of `key` when given.
std::optional<std::string> env_value(const EnvAssignments& env, std::string_view key);

}  // namespace mxg::preflight
