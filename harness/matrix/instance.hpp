// One case instance: a case's shape x token count x routing x input distribution x seed. Its
// canonical inputs and reference output are computed once and shared by all combinations.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "harness/matrix/case_spec.hpp"
#include "reports/result.hpp"

namespace mxg::matrix {

struct Instance {
  const CaseSpec* spec = nullptr;
  ShapeSpec shape;
  std::int64_t tokens = 0;
  Routing routing = Routing::Uniform;
  InputDist inputs = InputDist::Normal;
  std::uint64_t seed = 0;

  // "<case>/<shape>/T=<T>/route=<routing>/in=<inputs>/seed=<seed>"
  std::string id() const;
};

// Every instance of the cases, in file order. `seed_override` replaces every case's seeds.
std::vector<Instance> expand_instances(const std::vector<CaseSpec>& cases, const std::vector<std::uint64_t>& seed_override);

// "<instance id>/<combination id>", the id used everywhere (console, JUnit, JSON, --filter).
std::string result_id(const Instance& instance, const std::string& combination_id);

// A result's fields that come from the instance and the combination (id, case, shape, tokens,
// seed, tolerance; dims plus the instance's routing and inputs), for every kernel family.
report::CombinationResult result_header(const Instance& instance, const std::string& combination_id,
                                        std::map<std::string, std::string> dims);

// --filter: shell-style globs ('*', '?', '[...]') matched against the whole id; a leading '!'
// excludes. An id is selected when it matches some include pattern (or there is none) and no
// exclude pattern.
bool selected(const std::string& id, const std::vector<std::string>& filters);

}  // namespace mxg::matrix
