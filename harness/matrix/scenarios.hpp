// Named historical scenarios (cases/scenarios.json): patterns over the matrix dimensions that
// reproduce a past bug. Every combination realising one must be CAUGHT.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "harness/matrix/derivation.hpp"
#include "harness/matrix/dimensions.hpp"

namespace mxg::matrix {

struct Scenario {
  std::string name;
  std::string comment;
  std::string family = "aiter";               // the kernel family whose dimensions `match` names
  std::map<std::string, std::string> match;  // dimension -> value
  bool only_where_loaded_exceeds_i_over_tp = false;
};

// Throws InputError "FILE: /scenarios/2/match/gate_mode: ..." for unknown keys, dimensions or values.
std::vector<Scenario> load_scenarios(const std::filesystem::path& path);

// Names of the scenarios this combination realises at this geometry, for a kernel reading the pads
// in `convention` ("loaded-exceeds-i-over-tp" holds where that kernel drops loaded units).
std::vector<std::string> realised_scenarios(const std::vector<Scenario>& scenarios, const Combination& c,
                                            const Geometry& g, PadConvention convention = PadConvention::Exact);
// Names of the scenarios of another family that a combination with these dimensions realises
// (`dims` holds "family" and the family's dimension values).
std::vector<std::string> realised_scenarios(const std::vector<Scenario>& scenarios,
                                            const std::map<std::string, std::string>& dims);

}  // namespace mxg::matrix
