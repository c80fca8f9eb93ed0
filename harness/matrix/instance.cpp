// Instance expansion, ids and --filter matching.
#include "harness/matrix/instance.hpp"

#include <fnmatch.h>

#include <set>
#include <string>

#include <fmt/format.h>

namespace mxg::matrix {

std::string Instance::id() const {
  return fmt::format("{}/{}/T={}/route={}/in={}/seed={}", spec->name, shape.name, tokens, routing_name(routing),
                     input_dist_name(inputs), seed);
}

std::vector<Instance> expand_instances(const std::vector<CaseSpec>& cases, const std::vector<std::uint64_t>& seed_override) {
  // Each instance once: a repeated --seed (or a value listed twice in a case) would otherwise run it
  // twice and count its results twice.
  std::vector<Instance> out;
  std::set<std::string> seen;
  for (const auto& c : cases) {
    const auto& seeds = seed_override.empty() ? c.seeds : seed_override;
    for (const auto& shape : c.shapes)
      for (auto tokens : c.tokens)
        for (auto routing : c.routings)
          for (auto inputs : c.inputs)
            for (auto seed : seeds) {
              Instance inst{&c, shape, tokens, routing, inputs, seed};
              if (seen.insert(inst.id()).second) out.push_back(std::move(inst));
            }
  }
  return out;
}

std::string result_id(const Instance& instance, const std::string& combination_id) {
  return instance.id() + "/" + combination_id;
}

bool selected(const std::string& id, const std::vector<std::string>& filters) {
  bool any_include = false, included = false;
  for (const auto& f : filters) {
    if (!f.empty() && f[0] == '!') {
      if (fnmatch(f.c_str() + 1, id.c_str(), 0) == 0) return false;
    } else {
      any_include = true;
      if (fnmatch(f.c_str(), id.c_str(), 0) == 0) included = true;
    }
  }
  return !any_include || included;
}

report::CombinationResult result_header(const Instance& instance, const std::string& combination_id,
                                        std::map<std::string, std::string> dims) {
  report::CombinationResult r;
  r.id = result_id(instance, combination_id);
  r.case_name = instance.spec->name;
  r.shape = instance.shape.name;
  r.dims = std::move(dims);
  r.dims["routing"] = routing_name(instance.routing);
  r.dims["inputs"] = input_dist_name(instance.inputs);
  r.tokens = instance.tokens;
  r.seed = instance.seed;
  r.tolerance = instance.spec->tolerance;
  return r;
}

}  // namespace mxg::matrix
