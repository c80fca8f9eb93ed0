// JUnit XML for CI test reporters (mapping of verdicts to JUnit outcomes in junit.hpp).
#include "reports/junit.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pugixml.hpp>

#include "reports/digest.hpp"
#include "reports/file_io.hpp"
#include "reports/xml_text.hpp"

namespace mxg::report {

namespace {

std::string seconds_text(double s) { return fmt::format("{:.3f}", std::isfinite(s) ? s : 0.0); }

// Everything a reader of a CI failure needs without opening report.json.
std::string failure_details(const CombinationResult& r) {
  std::vector<std::string> dims;
  for (const auto& [name, value] : r.dims) dims.push_back(fmt::format("{}={}", name, value));
  std::string text;
  text += fmt::format("id: {}\n", r.id);
  text += fmt::format("case: {}, shape: {}, tokens: {}, seed: {}\n", r.case_name, r.shape, r.tokens, r.seed);
  text += fmt::format("dims: {}\n", fmt::join(dims, ", "));
  text += fmt::format("derivation: {}{}\n", r.expected_consistent ? "consistent" : "inconsistent",
                      r.derivation.empty() ? "" : " (" + r.derivation + ")");
  // An ERROR never produced an output, so it has no metrics worth showing.
  if (r.verdict != Verdict::Error) {
    text += fmt::format("metrics: {}\n", describe_metrics(r.metrics, r.tolerance));
    const auto broken = tolerance_violations(r.metrics, r.tolerance);
    text += fmt::format("outside tolerance: {}\n",
                        broken.empty() ? "nothing" : fmt::format("{}", fmt::join(broken, "; ")));
    text += fmt::format("hotspots: {}\n", describe_hotspots(r.hotspots, 10));
  }
  if (!r.scenarios.empty()) text += fmt::format("scenarios: {}\n", fmt::join(r.scenarios, ", "));
  text += fmt::format("ran on: backend {}, kernel {}, device {}\n", r.backend, r.kernel, r.device);
  if (!r.message.empty()) text += fmt::format("message: {}\n", r.message);
  return text;
}

struct SuiteCounts {
  std::int64_t tests = 0, failures = 0, errors = 0, skipped = 0;
  double seconds = 0;
  void add(const SuiteCounts& o) {
    tests += o.tests;
    failures += o.failures;
    errors += o.errors;
    skipped += o.skipped;
    seconds += o.seconds;
  }
};

void set_counts(pugi::xml_node node, const SuiteCounts& c) {
  node.append_attribute("tests").set_value(static_cast<long long>(c.tests));
  node.append_attribute("failures").set_value(static_cast<long long>(c.failures));
  node.append_attribute("errors").set_value(static_cast<long long>(c.errors));
  node.append_attribute("skipped").set_value(static_cast<long long>(c.skipped));
}

// A layout group: the combinations of one case that share every layout dimension (they differ only
// in shape, tokens, routing, inputs or seed). One testcase each keeps a nightly's JUnit file at
// thousands of testcases instead of a million; members are listed only when they did not pass.
struct LayoutGroup {
  std::string name;  // "gate_mode=separated/is_shuffled=1/..." (dimension=value, by dimension name)
  std::vector<const CombinationResult*> members;
};

std::string layout_group_name(const CombinationResult& r) {
  std::string name;
  for (const auto& [dim, value] : r.dims) {
    if (dim == "routing" || dim == "inputs") continue;  // properties of the instance, not of the layout
    name += (name.empty() ? "" : "/") + dim + "=" + value;
  }
  return name.empty() ? r.id : name;
}

// Member details in a failure body, at most this many (the rest are counted; results.jsonl.gz has them).
constexpr std::size_t kMaxListedMembers = 100;

std::string members_text(const std::vector<const CombinationResult*>& listed) {
  std::string text;
  for (std::size_t i = 0; i < listed.size() && i < kMaxListedMembers; ++i) text += failure_details(*listed[i]) + "\n";
  if (listed.size() > kMaxListedMembers) {
    text += fmt::format("... and {} more (results.jsonl.gz)\n", listed.size() - kMaxListedMembers);
  }
  return text;
}

void add_group_testcase(pugi::xml_node suite, const std::string& case_name, const LayoutGroup& g,
                        SuiteCounts& counts) {
  pugi::xml_node tc = suite.append_child("testcase");
  set_attr(tc, "name", g.name);
  set_attr(tc, "classname", case_name);
  std::map<Verdict, std::int64_t> by_verdict;
  std::vector<const CombinationResult*> failing, erroring;  // FAIL/BLIND, ERROR
  double seconds = 0;
  for (const CombinationResult* r : g.members) {
    ++by_verdict[r->verdict];
    if (std::isfinite(r->seconds)) seconds += r->seconds;
    if (r->verdict == Verdict::Fail || r->verdict == Verdict::Blind) failing.push_back(r);
    if (r->verdict == Verdict::Error) erroring.push_back(r);
  }
  set_attr(tc, "time", seconds_text(seconds));
  ++counts.tests;
  counts.seconds += seconds;
  const std::size_t n = g.members.size();
  if (!failing.empty()) {
    // A failure lists the failing members first, then any ERRORs of the same group.
    std::string type;
    for (Verdict v : {Verdict::Fail, Verdict::Blind})
      if (by_verdict.contains(v)) type += (type.empty() ? "" : "+") + std::string(verdict_name(v));
    pugi::xml_node failure = tc.append_child("failure");
    set_attr(failure, "message", fmt::format("{} of {} members {}: {}", failing.size(), n, type,
                                             one_line(one_line_reason(*failing.front()))));
    set_attr(failure, "type", type);
    std::vector<const CombinationResult*> listed = failing;
    listed.insert(listed.end(), erroring.begin(), erroring.end());
    failure.append_child(pugi::node_pcdata).set_value(xml_safe(members_text(listed)).c_str());
    ++counts.failures;
  } else if (!erroring.empty()) {
    pugi::xml_node error = tc.append_child("error");
    set_attr(error, "message", fmt::format("{} of {} members ERROR: {}", erroring.size(), n,
                                           one_line(one_line_reason(*erroring.front()))));
    set_attr(error, "type", "ERROR");
    error.append_child(pugi::node_pcdata).set_value(xml_safe(members_text(erroring)).c_str());
    ++counts.errors;
  } else if (by_verdict[Verdict::Skipped] == static_cast<std::int64_t>(n)) {
    const std::string& why = g.members.front()->message;
    set_attr(tc.append_child("skipped"), "message", one_line(why.empty() ? "no reason recorded" : why));
    ++counts.skipped;
  } else {
    // Passed: what the members were, and for a caught layout bug why it is one (no per-member detail).
    std::string out = fmt::format("{} members: {}", n, describe_counts(by_verdict));
    for (const CombinationResult* r : g.members) {
      if (r->verdict == Verdict::Caught) {
        out += "; " + one_line(one_line_reason(*r));
        break;
      }
    }
    add_text_child(tc, "system-out", out);
  }
}

pugi::xml_node open_suite(pugi::xml_node root, std::string_view name, const RunSummary& run) {
  pugi::xml_node suite = root.append_child("testsuite");
  set_attr(suite, "name", name);
  // Counts are only known after the testcases; attributes are inserted in front of "timestamp" then.
  set_attr(suite, "timestamp", run.started_at);
  pugi::xml_node props = suite.append_child("properties");
  for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"backend", run.backend},
                                   {"tool_version", run.tool_version}}) {
    pugi::xml_node p = props.append_child("property");
    set_attr(p, "name", key);
    set_attr(p, "value", value);
  }
  return suite;
}

void close_suite(pugi::xml_node suite, const SuiteCounts& c) {
  pugi::xml_attribute timestamp = suite.attribute("timestamp");
  suite.insert_attribute_before("tests", timestamp).set_value(static_cast<long long>(c.tests));
  suite.insert_attribute_before("failures", timestamp).set_value(static_cast<long long>(c.failures));
  suite.insert_attribute_before("errors", timestamp).set_value(static_cast<long long>(c.errors));
  suite.insert_attribute_before("skipped", timestamp).set_value(static_cast<long long>(c.skipped));
  suite.insert_attribute_before("time", timestamp).set_value(seconds_text(c.seconds).c_str());
}

}  // namespace

std::string render_junit(const RunSummary& run) {
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
  pugi::xml_node root = doc.append_child("testsuites");
  set_attr(root, "name", "mxguard");

  // Suites in the order their case first appears, so the file follows the run.
  std::vector<std::string> case_order;
  for (const CombinationResult& r : run.results) {
    if (!is_mutant_result(r) && std::find(case_order.begin(), case_order.end(), r.case_name) == case_order.end()) {
      case_order.push_back(r.case_name);
    }
  }
  SuiteCounts all;
  for (const std::string& case_name : case_order) {
    pugi::xml_node suite = open_suite(root, case_name, run);
    SuiteCounts counts;
    std::vector<LayoutGroup> groups;  // in the order their first member appears
    std::map<std::string, std::size_t> index;
    for (const CombinationResult& r : run.results) {
      if (is_mutant_result(r) || r.case_name != case_name) continue;
      const std::string name = layout_group_name(r);
      auto [it, fresh] = index.emplace(name, groups.size());
      if (fresh) groups.push_back({name, {}});
      groups[it->second].members.push_back(&r);
    }
    for (const LayoutGroup& g : groups) add_group_testcase(suite, case_name, g, counts);
    close_suite(suite, counts);
    all.add(counts);
  }

  if (!run.mutants.empty()) {
    pugi::xml_node suite = open_suite(root, "mutants", run);
    SuiteCounts counts;
    for (const MutantResult& m : run.mutants) {
      pugi::xml_node tc = suite.append_child("testcase");
      set_attr(tc, "name", m.name);
      set_attr(tc, "classname", "mutants");
      set_attr(tc, "time", seconds_text(0));
      ++counts.tests;
      const std::string detail = fmt::format("{}: detected by {} of {} combinations; {}",
                                             m.killed ? "killed" : "survived", m.detecting, m.combinations,
                                             m.description);
      if (m.killed) {
        add_text_child(tc, "system-out", detail);
      } else {
        pugi::xml_node failure = tc.append_child("failure");
        set_attr(failure, "message", "survived");
        set_attr(failure, "type", "SURVIVED");
        failure.append_child(pugi::node_pcdata).set_value(xml_safe(detail).c_str());
        ++counts.failures;
      }
    }
    close_suite(suite, counts);
    all.add(counts);
  }

  set_counts(root, all);
  // The run's wall time, not the sum of testcases: it includes reference computation and setup.
  set_attr(root, "time", seconds_text(run.wall_seconds));

  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return std::move(out).str();
}

void write_junit(const std::filesystem::path& path, const RunSummary& run) {
  write_file_atomically(path, render_junit(run));
}

}  // namespace mxg::report
