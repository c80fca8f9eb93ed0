// The configuration of a probe run as JSON for probe.json: every option that shapes the result, so a
// report says how it was made. The API key is never included (only the variable's name).
#pragma once

#include <nlohmann/json.hpp>

#include "harness/probe/probe_config.hpp"

namespace mxg::probe {

nlohmann::json run_config_json(const ProbeConfig& c);

}  // namespace mxg::probe
