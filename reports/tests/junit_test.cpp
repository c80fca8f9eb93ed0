// Tests of the JUnit XML: parsed back with pugixml and checked against the run it came from.
#include <iconv.h>

#include <map>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "reports/junit.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::fresh_temp_dir;
using testing::make_result;
using testing::sample_run;

pugi::xml_document parse(const std::string& xml) {
  pugi::xml_document doc;
  const pugi::xml_parse_result ok = doc.load_string(xml.c_str());
  EXPECT_TRUE(ok) << ok.description() << " at offset " << ok.offset;
  return doc;
}

long long attr(pugi::xml_node n, const char* name) {
  EXPECT_TRUE(n.attribute(name)) << n.name() << " lacks " << name;
  return n.attribute(name).as_llong(-1);
}

std::size_t children_named(pugi::xml_node tc, const char* name) {
  std::size_t n = 0;
  for (pugi::xml_node c = tc.child(name); c; c = c.next_sibling(name)) ++n;
  return n;
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != haystack.npos; }

// Every suite's and the root's counts equal what its <testcase> children actually hold.
TEST(JUnit, CountAttributesMatchTheTestcases) {
  const pugi::xml_document doc = parse(render_junit(sample_run()));
  const pugi::xml_node root = doc.child("testsuites");
  ASSERT_TRUE(root);
  long long tests = 0, failures = 0, errors = 0, skipped = 0;
  for (pugi::xml_node suite : root.children("testsuite")) {
    SCOPED_TRACE(suite.attribute("name").value());
    long long t = 0, f = 0, e = 0, s = 0;
    for (pugi::xml_node tc : suite.children("testcase")) {
      ++t;
      f += static_cast<long long>(children_named(tc, "failure"));
      e += static_cast<long long>(children_named(tc, "error"));
      s += static_cast<long long>(children_named(tc, "skipped"));
      EXPECT_LE(children_named(tc, "failure") + children_named(tc, "error") + children_named(tc, "skipped"), 1u);
    }
    EXPECT_EQ(attr(suite, "tests"), t);
    EXPECT_EQ(attr(suite, "failures"), f);
    EXPECT_EQ(attr(suite, "errors"), e);
    EXPECT_EQ(attr(suite, "skipped"), s);
    tests += t;
    failures += f;
    errors += e;
    skipped += s;
  }
  EXPECT_EQ(attr(root, "tests"), tests);
  EXPECT_EQ(attr(root, "failures"), failures);
  EXPECT_EQ(attr(root, "errors"), errors);
  EXPECT_EQ(attr(root, "skipped"), skipped);
  // fixtures.hpp: 10 matrix results in 9 layout groups (small-a's separated PASS at T=16 and FAIL at
  // T=256 share theirs) + 2 mutants; that group, BLIND and the surviving mutant fail; one ERROR; one SKIPPED.
  EXPECT_EQ(tests, 11);
  EXPECT_EQ(failures, 3);
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(skipped, 1);
}

TEST(JUnit, OneSuitePerCaseInRunOrderThenMutants) {
  const pugi::xml_document doc = parse(render_junit(sample_run()));
  std::vector<std::string> names;
  for (pugi::xml_node suite : doc.child("testsuites").children("testsuite")) {
    names.push_back(suite.attribute("name").value());
    const pugi::xml_node backend = suite.child("properties").find_child_by_attribute("property", "name", "backend");
    EXPECT_STREQ(backend.attribute("value").value(), "host");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"small-a", "gptoss120b-tp2", "mutants"}));
}

// Each verdict's JUnit outcome, one result at a time (a group of one member).
TEST(JUnit, EachVerdictMapsToItsJUnitOutcome) {
  for (const CombinationResult& r : sample_run().results) {
    SCOPED_TRACE(r.id);
    RunSummary one;
    one.results = {r};
    const pugi::xml_document doc = parse(render_junit(one));
    const pugi::xml_node root = doc.child("testsuites");
    if (!r.mutant.empty()) {
      EXPECT_FALSE(root.child("testsuite").child("testcase")) << "mutant combinations are not testcases";
      continue;
    }
    const pugi::xml_node tc = root.child("testsuite").child("testcase");
    ASSERT_TRUE(tc);
    EXPECT_FALSE(tc.next_sibling("testcase"));
    EXPECT_EQ(std::string(tc.attribute("classname").value()), r.case_name);
    EXPECT_NEAR(tc.attribute("time").as_double(-1), r.seconds, 5e-4);
    const bool has_failure = tc.child("failure"), has_error = tc.child("error"), has_skipped = tc.child("skipped");
    switch (r.verdict) {
      case Verdict::Pass:
        EXPECT_FALSE(has_failure || has_error || has_skipped);
        EXPECT_TRUE(contains(tc.child("system-out").text().get(), "1 members: PASS 1"));
        break;
      case Verdict::Caught: {
        EXPECT_FALSE(has_failure || has_error || has_skipped);
        const std::string out = tc.child("system-out").text().get();
        EXPECT_TRUE(contains(out, "CAUGHT")) << out;
        EXPECT_TRUE(contains(out, r.derivation)) << out;
        break;
      }
      case Verdict::Fail:
      case Verdict::Blind: {
        ASSERT_TRUE(has_failure);
        const pugi::xml_node f = tc.child("failure");
        const std::string message = f.attribute("message").value();
        const std::string body = f.text().get();
        EXPECT_EQ(std::string(f.attribute("type").value()), std::string(verdict_name(r.verdict)));
        EXPECT_TRUE(contains(message, fmt::format("1 of 1 members {}", verdict_name(r.verdict)))) << message;
        EXPECT_TRUE(contains(message, fmt::format("nmse {:.3e}", r.metrics.nmse))) << message;
        EXPECT_TRUE(contains(message, fmt::format("{:.3e}", r.tolerance.nmse))) << message;
        EXPECT_TRUE(contains(body, fmt::format("expert {} tile {}", r.hotspots.at(0).expert, r.hotspots.at(0).tile)))
            << body;
        EXPECT_TRUE(contains(body, r.id)) << body;
        if (r.verdict == Verdict::Fail) {
          EXPECT_TRUE(contains(message, "expert 3 tile 7 (62.0%)")) << message;
        }
        if (r.verdict == Verdict::Blind) {
          EXPECT_TRUE(contains(message, r.derivation)) << message;
        }
        break;
      }
      case Verdict::Error:
        ASSERT_TRUE(has_error);
        EXPECT_TRUE(contains(tc.child("error").attribute("message").value(), r.message));
        EXPECT_FALSE(contains(tc.child("error").text().get(), "metrics:")) << "an ERROR has no output to measure";
        EXPECT_FALSE(has_failure);
        break;
      case Verdict::Skipped:
        ASSERT_TRUE(has_skipped);
        EXPECT_EQ(std::string(tc.child("skipped").attribute("message").value()), r.message);
        break;
    }
  }
}

// Results sharing every layout dimension are one testcase; only the members that did not pass are
// listed, each in full.
TEST(JUnit, ALayoutGroupIsOneTestcaseListingOnlyItsFailingMembers) {
  RunSummary run;
  CombinationResult pass = make_result("c/T=1", "c", Verdict::Pass, 1e-7);
  CombinationResult fail = make_result("c/T=16", "c", Verdict::Fail, 3e-2);
  CombinationResult error = make_result("c/T=64", "c", Verdict::Error, 0);
  error.message = "worker crashed";
  CombinationResult other = make_result("c/T=1/other", "c", Verdict::Pass, 1e-7);
  other.dims["gate"] = "separated";  // another layout group
  CombinationResult routed = make_result("c/T=256", "c", Verdict::Pass, 1e-7);
  routed.dims["routing"] = "skewed";  // an instance property: same group
  run.results = {pass, fail, error, other, routed};
  const pugi::xml_document doc = parse(render_junit(run));
  const pugi::xml_node suite = doc.child("testsuites").child("testsuite");
  EXPECT_EQ(attr(suite, "tests"), 2);
  EXPECT_EQ(attr(suite, "failures"), 1);
  EXPECT_EQ(attr(suite, "errors"), 0);
  const pugi::xml_node group = suite.child("testcase");
  EXPECT_STREQ(group.attribute("name").value(),
               "flag=1/gate=interleave/pad=ok/prep=interleaved/s_shuffle=interleaved-tiles/w_shuffle=interleaved-tiles");
  const pugi::xml_node f = group.child("failure");
  ASSERT_TRUE(f);
  EXPECT_TRUE(contains(f.attribute("message").value(), "1 of 4 members FAIL")) << f.attribute("message").value();
  const std::string body = f.text().get();
  EXPECT_TRUE(contains(body, "id: c/T=16\n")) << body;
  EXPECT_TRUE(contains(body, "id: c/T=64\n")) << body;  // the group's ERROR is listed too
  EXPECT_FALSE(contains(body, "id: c/T=1\n")) << "a passing member gets no detail";
  EXPECT_FALSE(contains(body, "id: c/T=256\n")) << "a passing member gets no detail";
  EXPECT_NEAR(group.attribute("time").as_double(-1), 4 * 0.25, 5e-4);
  const pugi::xml_node second = group.next_sibling("testcase");
  EXPECT_FALSE(second.child("failure"));
  EXPECT_TRUE(contains(second.child("system-out").text().get(), "1 members: PASS 1"));
}

TEST(JUnit, KilledMutantsPassAndSurvivorsFailWithSurvived) {
  const pugi::xml_document doc = parse(render_junit(sample_run()));
  const pugi::xml_node suite = doc.child("testsuites").find_child_by_attribute("testsuite", "name", "mutants");
  ASSERT_TRUE(suite);
  const pugi::xml_node killed = suite.find_child_by_attribute("testcase", "name", "swap-tile");
  const pugi::xml_node survivor = suite.find_child_by_attribute("testcase", "name", "drop-scale-shuffle");
  ASSERT_TRUE(killed && survivor);
  EXPECT_FALSE(killed.child("failure"));
  EXPECT_TRUE(contains(killed.child("system-out").text().get(), "detected by 12 of 40"));
  EXPECT_STREQ(survivor.child("failure").attribute("message").value(), "survived");
  EXPECT_TRUE(contains(survivor.child("failure").text().get(), "leave the scale tensor unshuffled"));
}

TEST(JUnit, NoMutantsNoMutantSuite) {
  RunSummary run;
  run.results = {make_result("a/1", "a", Verdict::Pass, 1e-7)};
  const pugi::xml_document doc = parse(render_junit(run));
  EXPECT_FALSE(doc.child("testsuites").find_child_by_attribute("testsuite", "name", "mutants"));
  EXPECT_EQ(attr(doc.child("testsuites"), "tests"), 1);
}

// Independent UTF-8 check: glibc's iconv rejects any invalid sequence.
bool valid_utf8(const std::string& s) {
  iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  std::string in = s;
  std::string out(in.size() * 4 + 4, '\0');
  char* inp = in.data();
  char* outp = out.data();
  std::size_t inleft = in.size(), outleft = out.size();
  const std::size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
  iconv_close(cd);
  return rc != static_cast<std::size_t>(-1) && inleft == 0;
}

TEST(JUnit, CapturedStderrWithControlBytesAndBadUtf8StillGivesValidXml) {
  RunSummary run;
  CombinationResult r = make_result("a/1", "a", Verdict::Error, 0);
  r.message = "adapter crashed: \x1b[31mSegmentation fault\x1b[0m\x01 \xff\xfe tail \xe2\x82 end \xc3\xa9";
  run.results = {r};
  const std::string xml = render_junit(run);
  EXPECT_TRUE(valid_utf8(xml));
  for (unsigned char c : xml) {
    EXPECT_TRUE(c >= 0x20 || c == '\n' || c == '\r' || c == '\t') << "control byte " << int(c);
  }
  const pugi::xml_document doc = parse(xml);
  const std::string message =
      doc.child("testsuites").child("testsuite").child("testcase").child("error").attribute("message").value();
  EXPECT_TRUE(contains(message, "\\x1B[31mSegmentation fault")) << message;
  EXPECT_TRUE(contains(message, "\xc3\xa9")) << "valid multi-byte text is kept";
}

TEST(JUnit, WriteJunitWritesTheRenderedDocument) {
  const auto dir = fresh_temp_dir("junit-write");
  write_junit(dir / "junit.xml", sample_run());
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir / "junit.xml").c_str()));
  EXPECT_EQ(attr(doc.child("testsuites"), "tests"), 11);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mxg::report
